"""Send workload prompts through a LangChain chain concurrently, and record each call.

Ctrl-C (SIGINT) sets a stop flag: no new call starts, calls in flight are cancelled, and the
caller gets the calls finished so far with ``interrupted=True`` to print a partial report.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult
from langchain_core.runnables import Runnable
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from langchain_costrouter.pricing.prices import TokenUsage
from langchain_costrouter.workload import WorkloadItem


@dataclass(kw_only=True)
class Outcome:
    """One finished call."""

    index: int
    strategy: str
    category: str
    expected_level: str
    level: str | None = None
    """Level the router scored (the expected level for fixed-model strategies)."""
    served_level: str | None = None
    """Level of the serving model, when the router's metadata names it (``served_level``)."""
    model: str | None = None
    """Catalog name of the model that answered."""
    latency_s: float = 0.0
    ok: bool = True
    error: str | None = None
    usage: TokenUsage | None = None
    router_cost: Decimal | None = None
    """``cost_usd`` reported by the router's metadata, when it reported one."""


class _Capture(BaseCallbackHandler):
    """Keeps the last chat message a chain's model produced (one handler per call)."""

    run_inline = True

    def __init__(self) -> None:
        self.message: Any = None

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        gens = response.generations
        if gens and gens[0]:
            self.message = getattr(gens[0][0], "message", None)


def _describe(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:200]}"


def outcome_from_message(o: Outcome, message: Any, fixed_model: str | None) -> None:
    """Fill ``o`` from the chain's AIMessage: router metadata, usage."""
    if message is None:
        return
    o.usage = TokenUsage.from_usage_metadata(getattr(message, "usage_metadata", None))
    meta = (getattr(message, "response_metadata", None) or {}).get("costrouter") or {}
    o.model = meta.get("tier") or fixed_model
    o.level = meta.get("level") or o.level
    served = meta.get("served_level")
    o.served_level = served if isinstance(served, str) else None
    if meta.get("cost_usd") is not None:
        o.router_cost = Decimal(str(meta["cost_usd"]))


@dataclass
class RunResult:
    outcomes: list[Outcome]
    wall_s: float
    interrupted: bool


class Progressor:
    """A rich progress bar on a terminal; plain ``progress`` lines on stderr otherwise."""

    def __init__(self, console: Console, plain_every: int = 20) -> None:
        self.console = console
        self.plain_every = plain_every
        self.progress: Progress | None = None
        if console.is_terminal:
            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("errors {task.fields[errors]}"), TimeElapsedColumn(),
                console=console, transient=False,
            )

    def __enter__(self) -> Progressor:
        if self.progress:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress:
            self.progress.__exit__(*exc)

    def track(self, name: str, total: int) -> Callable[[int, int], None]:
        if self.progress is not None:
            task = self.progress.add_task(name, total=total, errors=0)
            prog = self.progress

            def update(done: int, errors: int) -> None:
                prog.update(task, completed=done, errors=errors)

            return update
        step = max(1, total // self.plain_every)

        def plain(done: int, errors: int) -> None:
            if done % step == 0 or done == total:
                print(f"progress {name}: {done}/{total} calls, {errors} errors",
                      file=sys.stderr, flush=True)

        return plain


async def run_chain(
    chain: Runnable[Any, Any],
    items: Sequence[WorkloadItem],
    *,
    strategy: str,
    concurrency: int,
    fixed_model: str | None = None,
    callbacks: Sequence[BaseCallbackHandler] = (),
    configurable: Callable[[WorkloadItem], dict[str, Any]] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> RunResult:
    """Run every item through ``chain`` (input ``{"prompt": ...}``), ``concurrency`` at a time."""
    stop = stop or asyncio.Event()
    queue: asyncio.Queue[tuple[int, WorkloadItem]] = asyncio.Queue()
    for pair in enumerate(items):
        queue.put_nowait(pair)
    outcomes: list[Outcome] = []
    errors = 0

    async def one(index: int, item: WorkloadItem) -> Outcome:
        cap = _Capture()
        config: dict[str, Any] = {"callbacks": [cap, *callbacks]}
        if configurable:
            config.update(configurable(item))
        o = Outcome(
            index=index, strategy=strategy, category=item.category,
            expected_level=item.expected_level.value, level=item.expected_level.value,
            model=fixed_model,
        )
        t0 = time.perf_counter()
        try:
            await chain.ainvoke({"prompt": item.prompt}, config=config)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            raise
        except Exception as e:
            o.ok = False
            o.error = _describe(e)
        o.latency_s = time.perf_counter() - t0
        outcome_from_message(o, cap.message, fixed_model)
        return o

    async def worker() -> None:
        nonlocal errors
        while not stop.is_set():
            try:
                index, item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            o = await one(index, item)
            outcomes.append(o)
            errors += not o.ok
            if on_progress:
                on_progress(len(outcomes), errors)

    t0 = time.perf_counter()
    workers = [asyncio.create_task(worker()) for _ in range(max(1, concurrency))]
    stopper = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set() and not all(w.done() for w in workers):
            await asyncio.wait([*workers, stopper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in workers:
            w.cancel()
        stopper.cancel()
        await asyncio.gather(*workers, stopper, return_exceptions=True)
    for w in workers:
        if w.done() and not w.cancelled() and w.exception() is not None:
            raise w.exception()  # type: ignore[misc]
    outcomes.sort(key=lambda o: o.index)
    return RunResult(outcomes, time.perf_counter() - t0, stop.is_set())


@contextlib.contextmanager
def sigint_sets(stop: asyncio.Event) -> Any:
    """While inside, Ctrl-C sets ``stop`` instead of raising KeyboardInterrupt."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, stop.set)
    except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); ``None`` for no values."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))
    return s[k]
