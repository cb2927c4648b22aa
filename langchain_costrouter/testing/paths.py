"""Call a chat model the four ways LangChain can: invoke, ainvoke, stream, astream.

``call(router, how, prompt, **kw)`` returns the message the caller ends up with (for streams,
the chunks summed), so one test can be parametrized over every path.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage

PATHS = ("invoke", "ainvoke", "stream", "astream")

# One loop for every async call: ChatOpenAI caches its async HTTP client, which is bound to the
# loop it was first used on (asyncio.run per call would leave it on a closed loop).
_LOOP = asyncio.new_event_loop()


def run(coro: Any) -> Any:
    return _LOOP.run_until_complete(coro)


def call(router: Any, how: str, prompt: Any, **kw: Any) -> BaseMessage:
    if how == "invoke":
        return router.invoke(prompt, **kw)
    if how == "ainvoke":
        return run(router.ainvoke(prompt, **kw))
    if how == "stream":
        return _sum(list(router.stream(prompt, **kw)))
    if how == "astream":

        async def go() -> list[AIMessageChunk]:
            return [c async for c in router.astream(prompt, **kw)]

        return _sum(run(go()))
    raise ValueError(how)


def _sum(chunks: list[AIMessageChunk]) -> AIMessage:
    assert chunks, "the stream yielded nothing"
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    return total  # type: ignore[return-value]


def route(msg: BaseMessage) -> dict[str, Any]:
    return msg.response_metadata["costrouter"]


def tiers(msg: BaseMessage) -> list[tuple[str, str]]:
    return [(a["tier"], a["status"]) for a in route(msg)["attempts"]]
