"""A local OpenAI-compatible provider server for tests, demos and benchmarks.

>>> with LocalServer(ServerConfig.from_catalog(latency_scale=0)) as srv:       # doctest: +SKIP
...     ChatOpenAI(model="gpt-4.1", base_url=srv.base_url, api_key="x", max_retries=0)

It runs uvicorn in a daemon thread on 127.0.0.1 (``port=0`` picks a free port) and returns once
the server accepts requests. ``set_faults`` and ``stats`` work while it runs. In-process use
without a socket: :func:`server_app` and :func:`asgi_clients`. From a shell::

    python -m langchain_costrouter.testing.server --port 8000 --catalog default
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import socket
import sys
import threading
from types import TracebackType
from typing import Any

import uvicorn

from langchain_costrouter.exceptions import ConfigError, PortInUseError
from langchain_costrouter.testing.app import ServerApp, server_app
from langchain_costrouter.testing.config import ModelBehaviour, ServerConfig
from langchain_costrouter.testing.faults import FaultPlan
from langchain_costrouter.testing.inprocess import asgi_clients

__all__ = [
    "FaultPlan",
    "LocalServer",
    "ModelBehaviour",
    "ServerConfig",
    "asgi_clients",
    "main",
    "server_app",
]


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; a taken port raises :class:`PortInUseError`."""
    # IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when proto is TCP;
    # with proto 0, keep-alive responses wait ~40 ms on delayed ACKs (measured).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortInUseError(host, port, e.strerror or str(e)) from None
        raise
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn.Server that signals readiness through a threading.Event."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.loop = asyncio.get_running_loop()
        self.ready.set()


class LocalServer:
    """The server in a background thread; a (sync or async) context manager."""

    def __init__(
        self,
        config: ServerConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ready_timeout_s: float = 10.0,
        log_level: str = "error",
    ) -> None:
        self.config = config or ServerConfig()
        self.host = host
        self.port = port
        self.ready_timeout_s = ready_timeout_s
        self.log_level = log_level
        self.app: ServerApp = server_app(self.config)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalServer({self.host}:{self.port}, {state}, models={len(self.config.models)})"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``.../v1``) to give ``ChatOpenAI(base_url=...)``."""
        return self.url + "/v1"

    def start(self) -> LocalServer:
        if self.running:
            return self
        sock = bind_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        cfg = uvicorn.Config(
            self.app,
            log_level=self.log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        server = self._server = _Server(cfg)
        self._error = None

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as e:  # reported by start()
                self._error = e
            finally:
                sock.close()
                server.ready.set()

        self._thread = threading.Thread(target=run, name=f"costrouter-server-{self.port}",
                                        daemon=True)
        self._thread.start()
        if not server.ready.wait(self.ready_timeout_s) or not server.started:
            self.stop()
            raise RuntimeError(
                f"local server on {self.url} did not start within {self.ready_timeout_s}s"
                + (f": {self._error!r}" if self._error else "")
            )
        return self

    def stop(self) -> None:
        """Stop serving; hanging requests are woken and in-flight ones get 1 s to finish."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self.app.state.close()
        server.should_exit = True
        thread.join(timeout=10)
        self._server = self._thread = None

    # fault control and counters --------------------------------------------------------

    def set_faults(self, model: str, plan: FaultPlan | None) -> None:
        """Change ``model``'s faults now (``None`` heals it)."""
        self.app.state.set_faults(model, plan)

    def stats(self) -> dict[str, dict[str, Any]]:
        return self.app.state.stats()

    def reset_stats(self) -> None:
        self.app.state.reset_stats()

    # context managers ------------------------------------------------------------------

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LocalServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)


# CLI ------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m langchain_costrouter.testing.server",
        description="Serve the catalog's models from a local OpenAI-compatible fake provider.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--catalog", default="default",
                   help="'default' or a YAML/JSON catalog override file")
    p.add_argument("--latency-scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--unknown-models", choices=["serve", "404"], default="404")
    p.add_argument("--log-level", default="warning")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from langchain_costrouter.models.catalog import Catalog

    try:
        default = args.catalog == "default"
        catalog = Catalog.default() if default else Catalog.from_file(args.catalog)
        config = ServerConfig.from_catalog(
            catalog, latency_scale=args.latency_scale, seed=args.seed,
            unknown_models=args.unknown_models,
        )
        sock = bind_socket(args.host, args.port)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    logging.basicConfig(level=args.log_level.upper())
    print(f"costrouter fake provider serving {len(config.models)} model names on "
          f"http://{args.host}:{port}/v1", flush=True)
    server = uvicorn.Server(uvicorn.Config(server_app(config), log_level=args.log_level,
                                           lifespan="off", timeout_graceful_shutdown=1))
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
