"""Building the chat model that serves a catalog entry.

A :class:`~langchain_costrouter.models.catalog.ModelSpec` with a ``base_url`` becomes a
``ChatOpenAI``
(every 2026 provider we default to speaks the OpenAI protocol) with usage streamed and SDK
retries off, so retries never multiply: the router owns retries and fallback. ChatOpenAI keeps
one HTTP connection pool per base URL and timeout (``langchain_openai`` caches its default
clients), so models behind one aggregator share a pool.

Keys: every key this module reads (``api_key``, the spec's environment variable) is registered
with :mod:`langchain_costrouter.redact` before use, and log scrubbing is installed before the
first client exists, so neither a provider's error text nor an HTTP log line can carry it.
A base URL with credentials in it (``https://user:key@host``) is refused with a
``ConfigError``: the URL is shown in reprs, identifying params, traces and httpx's request log.
"""

from __future__ import annotations

import threading

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from langchain_costrouter.exceptions import ConfigError, MissingAPIKeyError
from langchain_costrouter.models.catalog import ModelSpec
from langchain_costrouter.redact import install_log_scrubbing, register_secret, url_credentials

NO_KEY = "not-needed"
"""Sent to endpoints that need no key (a local server): the OpenAI client insists on one."""


def check_base_url(url: str | None, model: str) -> str | None:
    """``url`` if it carries no credentials; else a ``ConfigError`` that does not show them.

    The userinfo is registered as a secret first, so no later echo of the URL leaks it.
    """
    if url is None:
        return None
    bare, userinfo = url_credentials(url)
    if userinfo is not None:
        raise ConfigError(
            f"model {model!r}: base_url {bare!r} has credentials in it (user:password@); "
            "they would show in reprs, traces and HTTP logs. Use the bare URL and put the key "
            "in the environment variable named by api_key_env (sent as a Bearer token)"
        )
    return url


def build_chat_model(
    spec: ModelSpec, api_key: SecretStr | None = None, timeout: float | None = None
) -> BaseChatModel:
    """The chat model for ``spec``; the key comes from ``api_key`` or the spec's env var."""
    install_log_scrubbing()  # before the first HTTP client can log a request line
    if spec.chat_model is not None:
        return spec.chat_model
    base_url = check_base_url(spec.base_url, spec.name)
    from langchain_openai import ChatOpenAI

    key = api_key.get_secret_value() if api_key is not None else spec.api_key()
    register_secret(key)
    if key is None:
        if spec.api_key_env is not None:
            raise MissingAPIKeyError(spec.name, [spec.api_key_env])
        key = NO_KEY
    return ChatOpenAI(
        model=spec.model,
        base_url=base_url,
        api_key=SecretStr(key),
        stream_usage=True,  # only on by default for OpenAI's own URL
        max_retries=0,
        timeout=min(spec.timeout_s, timeout) if timeout else spec.timeout_s,
    )


class ModelPool:
    """Chat models built on first use, one per catalog entry, thread-safe."""

    def __init__(self, api_key: SecretStr | None = None, timeout: float | None = None) -> None:
        register_secret(api_key)
        self._api_key = api_key
        self._timeout = timeout
        self._models: dict[str, BaseChatModel] = {}
        self._lock = threading.Lock()

    def has_key(self, spec: ModelSpec) -> bool:
        return (
            spec.chat_model is not None
            or self._api_key is not None
            or spec.api_key_env is None
            or _registered(spec.api_key()) is not None
        )

    def get(self, spec: ModelSpec) -> BaseChatModel:
        model = self._models.get(spec.name)
        if model is None:
            with self._lock:
                model = self._models.get(spec.name)
                if model is None:
                    model = build_chat_model(spec, self._api_key, self._timeout)
                    self._models[spec.name] = model
        return model

    def __repr__(self) -> str:  # never shows the key
        return f"ModelPool(built={sorted(self._models)})"


def _registered(key: str | None) -> str | None:
    register_secret(key)
    return key
