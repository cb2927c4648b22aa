"""One try at one model: the context manager the router's entry points fill in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import ChatGenerationChunk, ChatResult

from langchain_costrouter.exceptions import ProviderResponseError
from langchain_costrouter.models.streaming import StreamTally, check_result
from langchain_costrouter.resilience.breaker import Permit
from langchain_costrouter.resilience.concurrency import Lease
from langchain_costrouter.routing.plan import Candidate

if TYPE_CHECKING:
    from langchain_costrouter.routing.run import CallRun


class Try:
    """One try at one model: a context manager that holds its slot and breaker permit."""

    __slots__ = ("cand", "chat", "kwargs", "lease", "permit", "result", "run", "start", "tally",
                 "tier")

    def __init__(self, run: CallRun, cand: Candidate, permit: Permit | None,
                 chat: BaseChatModel, kwargs: dict[str, Any]) -> None:
        self.run = run
        self.cand = cand
        self.permit = permit
        self.chat = chat
        """The chat model to call."""
        self.kwargs = kwargs
        """What it gets: stop, router defaults, its own tool format, no routing keys."""
        self.lease: Lease | None = None
        self.start = 0.0
        self.result: ChatResult | None = None
        self.tally: StreamTally | None = None
        """Set once the first chunk went out: from then on there is no fallback."""
        self.tier: Any = None
        """The service tier the provider reported (``flex`` or another), if it did."""

    def __enter__(self) -> Try:
        limiter, limit = self.run.engine.limiter, self.chat.rate_limiter
        try:
            if limiter is not None:
                self.lease = limiter.acquire(self.cand.name, priority=self.run.priority)
            if limit is not None:
                limit.acquire(blocking=True)
        except BaseException:
            self.run._unwind(self)
            raise
        self.start = self.run.clock()
        return self

    async def __aenter__(self) -> Try:
        limiter, limit = self.run.engine.limiter, self.chat.rate_limiter
        try:
            if limiter is not None:
                self.lease = await limiter.aacquire(self.cand.name, priority=self.run.priority)
            if limit is not None:
                await limit.aacquire(blocking=True)
        except BaseException:
            self.run._unwind(self)
            raise
        self.start = self.run.clock()
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        return self.run._settle(self, exc)

    async def __aexit__(self, et: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool:
        return self.run._settle(self, exc)

    def answer(self, result: Any) -> None:
        """The model's answer (checked, billed and judged when the ``with`` block ends)."""
        self.result = check_result(result)
        self.tier = (self.result.llm_output or {}).get("service_tier")

    def _seen(self, chunk: ChatGenerationChunk) -> ChatGenerationChunk:
        tier = (chunk.generation_info or {}).get("service_tier")
        if tier is not None:
            self.tier = tier
        return chunk

    def stream(self, chunks: Iterator[ChatGenerationChunk]) -> Iterator[ChatGenerationChunk]:
        """Pass the model's chunks on, tallying text and usage; an empty stream is an error."""
        first = next(chunks, None)
        if first is None:
            raise ProviderResponseError(f"{self.cand.name!r} sent an empty stream")
        self.tally = tally = StreamTally()
        try:
            yield tally.add(self._seen(first))
            for chunk in chunks:
                yield tally.add(self._seen(chunk))
        finally:  # a caller that stops early closes the model's stream now, not at GC
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    async def astream(
        self, chunks: AsyncIterator[ChatGenerationChunk]
    ) -> AsyncIterator[ChatGenerationChunk]:
        first = await anext(chunks, None)
        if first is None:
            raise ProviderResponseError(f"{self.cand.name!r} sent an empty stream")
        self.tally = tally = StreamTally()
        try:
            yield tally.add(self._seen(first))
            async for chunk in chunks:
                yield tally.add(self._seen(chunk))
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
