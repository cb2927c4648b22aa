"""The one scrubber removes credentials from texts, errors, attempts and log records."""

from __future__ import annotations

import logging
import traceback
import uuid

import pytest
from pydantic import SecretStr

from langchain_costrouter.exceptions import (
    AllModelsFailedError,
    Attempt,
    ConfigError,
    MissingAPIKeyError,
    StreamInterruptedError,
    UnknownModelError,
)
from langchain_costrouter.models.catalog import ModelSpec
from langchain_costrouter.models.pool import ModelPool, build_chat_model, check_base_url
from langchain_costrouter.redact import (
    REDACTED,
    install_log_scrubbing,
    register_env_secret,
    register_secret,
    scrub,
    scrub_exception,
    scrub_text,
    url_credentials,
)


def planted() -> str:
    """A key of no known shape: only registration can find it."""
    return "PLANTED" + uuid.uuid4().hex.upper()


@pytest.mark.parametrize(
    "text",
    [
        "upstream rejected key Bearer sk-proj-abcdefghijklmnop",
        "Authorization: Basic dXNlcjpzM2NyZXQtcGFzcw==",
        "call https://alice:s3cret-pass@gw.example/v1 failed",
        "GET /v1/models?api_key=abc123def456&x=1",
        'body {"api_key": "zq9-not-a-known-shape"}',
        "password=hunter2hunter2",
        "xai-abcdefghijklmnopqrstu and AIzaSyA1234567890abcdefghijkl",
    ],
)
def test_shaped_credentials_are_removed(text: str) -> None:
    out = scrub_text(text)
    for secret in ("sk-proj", "dXNlcjpz", "s3cret", "abc123def456", "zq9-not", "hunter2",
                   "xai-abc", "AIzaSy"):
        assert secret not in out
    assert REDACTED in out


def test_ordinary_text_is_kept() -> None:
    text = "the key point: use OPENROUTER_API_KEY, key_value_store, 'secret' sauce; tokens=42"
    assert scrub_text(text) == text


def test_a_registered_key_of_any_shape_is_removed_also_escaped() -> None:
    key = planted() + "+/x"
    assert scrub_text(key) == key  # unknown shape: kept until registered
    register_secret(SecretStr(key))
    for form in (key, key.replace("+", "%2B").replace("/", "%2F"), f'"{key}"'):
        assert key not in scrub_text(form) and "%2B" not in scrub_text(form)
    register_secret("short")  # too short to register without redacting ordinary words
    assert scrub_text("a short text") == "a short text"


def test_an_env_key_is_registered_where_it_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    key = planted()
    monkeypatch.setenv("SWEEP_TEST_KEY", key)
    assert register_env_secret("SWEEP_TEST_KEY") == key
    assert scrub_text(f"echo {key}") == f"echo {REDACTED}"
    assert register_env_secret("SWEEP_TEST_UNSET") is None


def test_scrub_drops_credential_keys_and_scrubs_values() -> None:
    key = planted()
    register_secret(key)
    got = scrub({"api_key": key, "headers": {"a": 1}, "note": f"k={key}", "n": [key, 3]})
    assert got == {"note": f"k={REDACTED}", "n": [REDACTED, 3]}


def test_url_credentials_are_split_off_and_registered() -> None:
    key = planted()
    bare, userinfo = url_credentials(f"https://user:{key}@gw.example:8443/v1?x=1")
    assert bare == "https://gw.example:8443/v1?x=1" and userinfo == f"user:{key}"
    assert key not in scrub_text(f"token {key}")
    assert url_credentials("https://gw.example/v1") == ("https://gw.example/v1", None)


def test_a_base_url_with_credentials_is_refused_without_showing_them() -> None:
    key = planted()
    with pytest.raises(ConfigError) as info:
        check_base_url(f"https://user:{key}@gw.example/v1", "cheap")
    assert "gw.example" in str(info.value) and "api_key_env" in str(info.value)
    assert key not in str(info.value) and key not in repr(info.value)
    spec = ModelSpec(name="m", provider="p", model="m", base_url=f"https://:{key}@h/v1",
                     api_key_env=None)
    with pytest.raises(ConfigError):
        build_chat_model(spec)
    assert check_base_url("http://127.0.0.1:8000/v1", "m") == "http://127.0.0.1:8000/v1"


def test_the_pool_registers_its_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    given, env = planted(), planted()
    ModelPool(SecretStr(given))
    assert scrub_text(given) == REDACTED
    monkeypatch.setenv("SWEEP_POOL_KEY", env)
    spec = ModelSpec(name="m", provider="p", model="m", base_url="http://127.0.0.1:9/v1",
                     api_key_env="SWEEP_POOL_KEY")
    assert ModelPool().has_key(spec)
    assert scrub_text(env) == REDACTED


def test_errors_and_attempts_are_scrubbed() -> None:
    key = planted()
    register_secret(key)
    cause = ConnectionError(f"upstream rejected key Bearer {key}")
    attempt = Attempt(tier="cheap", status="error", error=f"ConnectionError: {cause}")
    assert key not in attempt.error  # type: ignore[operator]
    assert key not in str(attempt.as_dict())
    err = AllModelsFailedError("every model failed", [cause], [attempt])
    for text in (str(err), repr(err), str(err.args), str(err.exceptions),
                 "".join(traceback.format_exception(err))):
        assert key not in text, text
    assert err.attempts[0].tier == "cheap"
    assert isinstance(err.exceptions[0], ConnectionError)  # the type is kept for except*
    s = StreamInterruptedError("cheap", "partial", RuntimeError(f"reset by {key}"))
    assert key not in str(s) and key not in repr(s)


def test_a_key_pasted_as_the_variable_name_is_not_echoed() -> None:
    key = "sk-" + uuid.uuid4().hex
    for pasted in (key, planted() + "-x.y"):
        err = MissingAPIKeyError("cheap", [pasted])
        assert pasted not in str(err) and pasted not in repr(err)
        assert "not an environment variable name" in str(err)
    assert "OPENAI_API_KEY" in str(MissingAPIKeyError("m", ["OPENAI_API_KEY"]))
    k = planted()
    register_secret(k)
    assert k not in str(UnknownModelError("tier", k, ["a"]))


def test_scrub_exception_cleans_args_message_and_causes() -> None:
    key = planted()
    register_secret(key)

    class ProviderError(Exception):
        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.message = message
            self.body = {"error": {"message": message}}

    inner = ProviderError(f"bad key {key}")
    outer = RuntimeError("wrapped")
    outer.__cause__ = inner
    scrub_exception(outer)
    assert key not in inner.message and key not in str(inner) and key not in str(inner.body)


def test_log_records_are_scrubbed_whoever_logs_them(caplog: pytest.LogCaptureFixture) -> None:
    key = planted()
    register_secret(key)
    install_log_scrubbing()
    install_log_scrubbing()  # idempotent
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpx").info("HTTP Request: POST https://u:%s@gw/v1 200", key)
        logging.getLogger("openai._base_client").debug("Request options: %r",
                                                        {"headers": {"x-key": key}})
        try:
            raise ValueError(f"provider said {key}")
        except ValueError:
            logging.getLogger("some.app").exception("failed")
    assert len(caplog.records) == 3
    assert key not in caplog.text
    assert all(key not in r.getMessage() for r in caplog.records)
    assert "provider said" in caplog.text  # the traceback is kept, without the key


def test_env_names_are_told_from_pasted_keys() -> None:
    from langchain_costrouter.redact import is_env_name

    assert all(is_env_name(n) for n in ("OPENAI_API_KEY", "_X", "key1"))
    assert not any(is_env_name(n) for n in ("sk-abc", "sk_live_abc", "a-b", "1ABC", "", None,
                                            "with space", "x" * 200))
