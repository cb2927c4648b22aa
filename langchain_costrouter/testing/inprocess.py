"""Clients that call the server app in-process, without a socket.

httpx ships only an async ``ASGITransport``; :class:`SyncASGITransport` runs the app on a
private event loop in a daemon thread so that sync code (``ChatOpenAI.invoke``) can use it too.
Both response kinds are buffered whole (SSE arrives at once), as with ``httpx.ASGITransport``.
The openai SDK accepts these ``httpx`` clients as ``http_client``/``http_async_client``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx

BASE_URL = "http://costrouter.local"


class ASGITransport(httpx.ASGITransport):
    """``httpx.ASGITransport`` that turns a dropped connection into the error a socket gives."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except ConnectionResetError as e:  # app.ConnectionDropped
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from e


class SyncASGITransport(httpx.BaseTransport):
    """A sync httpx transport over an ASGI app (the app runs on a background event loop)."""

    def __init__(self, app: Any, *, timeout_s: float = 300.0) -> None:
        self._inner = ASGITransport(app=app)
        self._timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="costrouter-asgi", daemon=True
        )
        self._thread.start()

    async def _roundtrip(
        self, request: httpx.Request
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        body = request.read()
        req = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        resp = await self._inner.handle_async_request(req)
        data = await resp.aread()
        return resp.status_code, resp.headers.raw, data

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fut = asyncio.run_coroutine_threadsafe(self._roundtrip(request), self._loop)
        status, headers, data = fut.result(self._timeout_s)
        return httpx.Response(status, headers=headers, content=data, request=request)

    def close(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()


def asgi_clients(
    app: Any, *, timeout_s: float = 60.0
) -> tuple[httpx.Client, httpx.AsyncClient]:
    """``(httpx.Client, httpx.AsyncClient)`` calling ``app`` in-process, base ``BASE_URL``.

    >>> sync, async_ = asgi_clients(server_app())                    # doctest: +SKIP
    >>> ChatOpenAI(base_url=BASE_URL + "/v1", api_key="x",
    ...            http_client=sync, http_async_client=async_)        # doctest: +SKIP
    """
    sync = httpx.Client(
        transport=SyncASGITransport(app), base_url=BASE_URL, timeout=timeout_s
    )
    async_ = httpx.AsyncClient(
        transport=ASGITransport(app=app), base_url=BASE_URL, timeout=timeout_s
    )
    return sync, async_
