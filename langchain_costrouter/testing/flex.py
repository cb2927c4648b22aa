"""The flex service tier on the local server's chat endpoint.

A request with ``"service_tier": "flex"`` is answered like any other (its ``service_tier`` is
echoed in the completion) unless the flex script refuses it: then it gets OpenAI's
``429 resource_unavailable``, which a client must not treat as a rate limit of the model.
``POST /admin/flex`` ``{"model": name, "refuse": n}`` refuses the next ``n`` flex requests to
``model``; ``GET /admin/flex`` gives the counters.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FLEX_REFUSAL = {
    "error": {
        "message": "Resource unavailable: flex capacity is exhausted, please retry later "
                   "or use the default service tier.",
        "type": "invalid_request_error",
        "param": "service_tier",
        "code": "resource_unavailable",
    }
}


class FlexScript:
    """Refusals to come, per model, and what was served (thread-safe)."""

    def __init__(self) -> None:
        self.refuse: Counter[str] = Counter()
        self.served: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.lock = threading.Lock()

    def take_refusal(self, model: str) -> bool:
        with self.lock:
            if self.refuse[model] > 0 or self.refuse["*"] > 0:
                key = model if self.refuse[model] > 0 else "*"
                self.refuse[key] -= 1
                self.refused[model] += 1
                return True
            self.served[model] += 1
            return False

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {"served": dict(self.served), "refused": dict(self.refused),
                    "pending_refusals": {k: v for k, v in self.refuse.items() if v}}


class FlexGate:
    """ASGI wrapper of the chat handler that applies the flex script."""

    def __init__(self, inner: Any, script: FlexScript) -> None:
        self.inner, self.script = inner, script

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        chunks = []
        while True:
            msg = await receive()
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        raw = b"".join(chunks)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            body = None
        flex = isinstance(body, dict) and body.get("service_tier") == "flex"
        if flex and self.script.take_refusal(str(body.get("model"))):  # type: ignore[union-attr]
            data = json.dumps(FLEX_REFUSAL).encode()
            await send({"type": "http.response.start", "status": 429, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode())]})
            await send({"type": "http.response.body", "body": data})
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        await self.inner(scope, replay, send)


def flex_routes(script: FlexScript) -> list[Route]:
    async def set_flex(request: Request) -> Response:
        try:
            payload = await request.json()
            model, n = str(payload["model"]), int(payload.get("refuse", 0))
            assert n >= 0
        except (ValueError, KeyError, TypeError, AssertionError):
            return JSONResponse({"error": {"message": "expected {model, refuse >= 0}"}},
                                status_code=400)
        with script.lock:
            script.refuse[model] = n
        return JSONResponse({"model": model, "refuse": n})

    async def stats(_: Request) -> Response:
        return JSONResponse(script.stats())

    return [Route("/admin/flex", set_flex, methods=["POST"]),
            Route("/admin/flex", stats, methods=["GET"])]
