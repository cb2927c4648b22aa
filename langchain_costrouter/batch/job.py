"""A batch job: submit its chunks once, poll them with backoff, map results back to inputs in
order, retry unanswered items on realtime by policy, and bill each item once.

>>> job = submit_batch(router, prompts, store="jobs.db")          # doctest: +SKIP
>>> job.wait(); answers = job.results()                              # doctest: +SKIP
>>> BatchJob.resume(job.id, store="jobs.db", router=router).results()  # doctest: +SKIP

Everything a job knows is in its :class:`JobStore`; a job object is only a handle, so a new
process resumes with ``BatchJob.resume(id)`` and never submits or bills anything twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage

from langchain_costrouter.batch.accounting import (
    emit,
    load_message,
    price,
    prices_from,
    record_of,
    to_message,
)
from langchain_costrouter.batch.anthropic import AnthropicBatches
from langchain_costrouter.batch.budgeting import ChunkBudgets
from langchain_costrouter.batch.limits import BatchLimits
from langchain_costrouter.batch.planning import plan_job
from langchain_costrouter.batch.realtime import run_item
from langchain_costrouter.batch.store import ITEM_DONE, ChunkRow, ItemRow, JobStore
from langchain_costrouter.batch.transport import OpenAIBatches, Transport
from langchain_costrouter.budget.budgets import ANONYMOUS, scopes_of
from langchain_costrouter.exceptions import (
    BatchError,
    BatchItemError,
    BatchTransportError,
    MalformedBatchResultError,
)

log = logging.getLogger(__name__)
TransportFactory = Callable[[ChunkRow], Transport]


@dataclass(frozen=True)
class JobStatus:
    """Where a job stands, from its store: item states, chunk states, cost so far."""

    job_id: str
    total: int
    items: dict[str, int]
    chunks: dict[str, int]
    cost: Decimal | None

    @property
    def finished(self) -> int:
        return sum(n for s, n in self.items.items() if s in ITEM_DONE)

    @property
    def done(self) -> bool:
        return self.finished == self.total

    def line(self) -> str:
        states = ", ".join(f"{s} {n}" for s, n in sorted(self.items.items()))
        cost = "unpriced" if self.cost is None else f"${self.cost:.6f}"
        return f"{self.job_id}: {self.finished}/{self.total} done ({states}); cost {cost}"


def _store(store: JobStore | str | os.PathLike[str]) -> JobStore:
    return store if isinstance(store, JobStore) else JobStore(Path(store))


class BatchJob:
    """A handle on one stored job."""

    def __init__(self, job_id: str, store: JobStore | str | os.PathLike[str], *,
                 router: Any = None, sinks: Sequence[Any] = (),
                 transports: TransportFactory | None = None, budget: Any = None) -> None:
        self.store = _store(store)
        self.row = self.store.job(job_id)  # UnknownBatchError when absent
        self.id = job_id
        self.router = router
        self.budget = budget
        self._budgets = ChunkBudgets(budget, self.store, job_id, self.row.opts().get("budget"))
        self.sinks = list(sinks)
        self._factory = transports or self._default_transport
        self._transports: dict[int, Transport] = {}

    def __repr__(self) -> str:
        return f"BatchJob({self.id!r}, items={self.row.n_items}, store={self.store.path!r})"

    @classmethod
    def resume(cls, job_id: str, store: JobStore | str | os.PathLike[str] = "costrouter-batches.db",
               **kwargs: Any) -> BatchJob:
        """The stored job ``job_id``; submits only chunks never submitted. A job submitted under
        a budget needs ``budget=`` (the same guard, or one over the same ledger)."""
        job = cls(job_id, store, **kwargs)
        job.submit()
        return job

    # transports -----------------------------------------------------------------------------

    def _default_transport(self, chunk: ChunkRow) -> Transport:
        key = None
        secret = getattr(self.router, "api_key", None)
        if secret is not None:
            key = secret.get_secret_value()
        elif chunk.api_key_env:
            key = os.environ.get(chunk.api_key_env)
        if chunk.kind == "anthropic":
            return AnthropicBatches(chunk.base_url, key, provider=chunk.provider)
        return OpenAIBatches(chunk.base_url, key, provider=chunk.provider)

    def _t(self, chunk: ChunkRow) -> Transport:
        if chunk.chunk_no not in self._transports:
            self._transports[chunk.chunk_no] = self._factory(chunk)
        return self._transports[chunk.chunk_no]

    # lifecycle ------------------------------------------------------------------------------

    def submit(self) -> None:
        """Send every chunk not yet sent. The ``submitting`` state is committed before the
        provider call, so after a crash the chunk is looked up at the provider, not resent.
        Under a budget, every planned chunk reserves its estimate first (all or none)."""
        self._budgets.reserve_planned(self.store.chunks(self.id))
        for chunk in self.store.chunks(self.id):
            if chunk.state == "submitting":
                found = self._t(chunk).find(self._key(chunk), chunk.submit_started or 0,
                                            chunk.n_items)
                if found is not None:
                    self.store.set_chunk(self.id, chunk.chunk_no, state="submitted",
                                         remote_id=found.id, remote_status=found.status)
                    continue
            elif chunk.state != "planned":
                continue
            self.store.set_chunk(self.id, chunk.chunk_no, state="submitting",
                                 submit_started=time.time())
            requests = [(it.custom_id, it.body())
                        for it in self.store.items(self.id, chunk_no=chunk.chunk_no)]
            try:
                remote = self._t(chunk).create(self._key(chunk), requests)
            except BatchTransportError as e:
                if e.status is None or e.status >= 500:
                    raise  # unknown outcome: stays "submitting", looked up on resume
                self._fail_chunk(chunk, str(e))
                self._budgets.finish()
                continue
            self.store.set_chunk(self.id, chunk.chunk_no, state="submitted",
                                 remote_id=remote.id, input_file_id=remote.input_file_id,
                                 remote_status=remote.status)

    def _key(self, chunk: ChunkRow) -> str:
        return f"{self.id}-{chunk.chunk_no}"

    def _fail_chunk(self, chunk: ChunkRow, why: str) -> None:
        items = self.store.items(self.id, chunk_no=chunk.chunk_no, states=["pending"])
        self.store.set_items(
            self.id, [{"idx": it.idx, "state": "failed", "error_kind": "failed", "error": why}
                      for it in items],
            chunk=(chunk.chunk_no, {"state": "failed", "error": why[:500],
                                    **self._budgets.releasing(chunk)}))

    def poll(self) -> JobStatus:
        """Read every open chunk once; collect the ended ones (settling their budget); run
        realtime items; bill."""
        self._budgets.need_guard()
        self._budgets.finish()  # what a process that died left committed but unsettled
        for chunk in self.store.chunks(self.id):
            if chunk.state == "submitted":
                self._poll_chunk(chunk)
        self._retry_and_run()
        self._bill()
        return self.status()

    def _poll_chunk(self, chunk: ChunkRow) -> None:
        t = self._t(chunk)
        remote = t.retrieve(str(chunk.remote_id))
        counts = json.dumps(remote.counts)
        if not remote.ended:
            self.store.set_chunk(self.id, chunk.chunk_no, remote_status=remote.status,
                                 counts=counts)
            return
        if remote.status == "failed":
            self._fail_chunk(chunk, f"batch {remote.id} failed validation: {remote.errors}")
            self._budgets.finish()
            return
        items = {it.custom_id: it for it in self.store.items(self.id, chunk_no=chunk.chunk_no)}
        prices = prices_from(chunk.prices)
        updates: dict[int, dict[str, Any]] = {}
        unreadable: list[str] = []
        for line in t.results(remote):
            it = items.get(line.custom_id or "")
            if it is None or it.idx in updates:
                if line.kind == "malformed" and it is None:
                    unreadable.append(line.message)
                elif it is not None:
                    log.warning("batch %s: second result line for %s ignored", remote.id,
                                line.custom_id)
                continue
            if line.kind == "succeeded" and line.chat is not None:
                cost = price(line.chat, prices)
                msg = to_message(line.chat, tier=chunk.tier, lane="batch", cost=cost,
                                 job_id=self.id, remote_id=remote.id)
                updates[it.idx] = {"idx": it.idx, "state": "succeeded",
                                   "message": json.dumps(msg),
                                   "cost": None if cost is None else str(cost)}
            else:
                updates[it.idx] = {"idx": it.idx, "state": line.kind, "error_kind": line.kind,
                                   "error": line.message}
        why = "no result line for this item"
        if unreadable:
            why += f"; {len(unreadable)} unreadable line(s), first: {unreadable[0]}"
        for it in items.values():
            if it.idx not in updates and it.state == "pending":
                updates[it.idx] = {"idx": it.idx, "state": "missing", "error_kind": "missing",
                                   "error": why}
        self.store.set_items(self.id, updates.values(), chunk=(chunk.chunk_no, {
            "state": "collected", "remote_status": remote.status, "counts": counts,
            **self._budgets.settling(chunk, updates.values())}))
        self._budgets.finish()

    def _retry_and_run(self) -> None:
        kinds = self.row.opts().get("retry") or []
        if kinds and self.router is not None:
            again = [it for it in self.store.items(self.id, states=kinds) if it.lane == "batch"]
            self.store.set_items(self.id, [{"idx": it.idx, "state": "pending",
                                            "lane": "realtime"} for it in again])
        todo = [it for it in self.store.items(self.id, states=["pending"])
                if it.lane in ("realtime", "flex")]
        if todo and self.router is None:
            return  # needs a router: resume(..., router=...) runs them
        for it in todo:
            self.store.set_items(self.id, [run_item(self.router, self.id, it, guard=self.budget,
                                                    metadata=self.row.opts().get("budget"))])

    def _bill(self) -> None:
        rows = self.store.take_unbilled(self.id)
        if rows and self.sinks:
            providers = {c.tier: c.provider for c in self.store.chunks(self.id)}
            cat = getattr(self.router, "route_catalog", None)
            records = []
            for r in rows:
                provider = providers.get(r.tier) or (
                    cat.models[r.tier].provider if cat and r.tier in cat.models else "unknown")
                records.append(record_of(self.id, r, provider=provider))
            emit(records, self.sinks)

    def wait(self, *, poll_s: float = 30.0, max_poll_s: float = 600.0, backoff: float = 2.0,
             timeout_s: float | None = None, sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic,
             on_progress: Callable[[JobStatus], None] | None = None) -> JobStatus:
        """Poll until every item is done, waiting ``poll_s`` then ``backoff`` times longer each
        round, at most ``max_poll_s``; stop (not done) after ``timeout_s``."""
        start, delay = clock(), poll_s
        while True:
            st = self.poll()
            if on_progress is not None:
                on_progress(st)
            if st.done or (timeout_s is not None and clock() - start + delay > timeout_s):
                return st
            sleep(delay)
            delay = min(delay * backoff, max_poll_s)

    async def wait_async(self, *, poll_s: float = 30.0, max_poll_s: float = 600.0,
                         backoff: float = 2.0, timeout_s: float | None = None,
                         sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                         clock: Callable[[], float] = time.monotonic,
                         on_progress: Callable[[JobStatus], None] | None = None) -> JobStatus:
        """:meth:`wait` for asyncio: each poll runs in a worker thread, the wait on the loop."""
        start, delay = clock(), poll_s
        while True:
            st = await asyncio.to_thread(self.poll)
            if on_progress is not None:
                on_progress(st)
            if st.done or (timeout_s is not None and clock() - start + delay > timeout_s):
                return st
            await sleep(delay)
            delay = min(delay * backoff, max_poll_s)

    def cancel(self) -> JobStatus:
        """Ask the provider to cancel every open chunk; cancelled items come back as such."""
        self.store.set_cancelled(self.id)
        for chunk in self.store.chunks(self.id):
            if chunk.state == "submitted":
                self._t(chunk).cancel(str(chunk.remote_id))
        return self.status()

    # reading --------------------------------------------------------------------------------

    def status(self) -> JobStatus:
        chunks: dict[str, int] = {}
        for c in self.store.chunks(self.id):
            chunks[c.state] = chunks.get(c.state, 0) + 1
        return JobStatus(self.id, self.row.n_items, self.store.counts(self.id), chunks,
                         self.cost())

    def cost(self) -> Decimal | None:
        """What the answered items cost; ``None`` when any of them is unpriced."""
        total = Decimal(0)
        for it in self.store.items(self.id, states=["succeeded"]):
            if it.cost is None:
                return None
            total += Decimal(it.cost)
        return total

    def estimated_cost(self) -> Decimal | None:
        """What the whole job was estimated to cost at planning, at each item's lane prices
        (what a budget reserves at submission); ``None`` when any item is unpriced."""
        total = Decimal(0)
        for it in self.store.items(self.id):
            if it.estimated_cost is None:
                return None
            total += Decimal(it.estimated_cost)
        return total

    def results(self) -> list[AIMessage | BatchItemError]:
        """One entry per input, in input order: the answer, or a typed per-item error."""
        items = self.store.items(self.id)
        pending = [it.idx for it in items if it.state not in ITEM_DONE]
        if pending:
            raise BatchError(f"batch job {self.id} is not finished: {len(pending)} of "
                             f"{len(items)} items pending (first: item {pending[0]}); wait() or "
                             "poll() first")
        return [_outcome(it) for it in items]


def _outcome(it: ItemRow) -> AIMessage | BatchItemError:
    if it.state == "succeeded" and it.message is not None:
        return load_message(it.message)
    cls = MalformedBatchResultError if it.state == "malformed" else BatchItemError
    return cls(it.idx, it.custom_id, it.state, it.error or "")


def submit_batch(router: Any, inputs: Sequence[Any], *,
                 store: JobStore | str | os.PathLike[str] = "costrouter-batches.db",
                 lane: str = "batch", fallback_lanes: Sequence[str] = (),
                 limits: BatchLimits | Mapping[str, BatchLimits] | None = None,
                 retry: bool | Sequence[str] = False, sinks: Sequence[Any] = (),
                 transports: TransportFactory | None = None, job_id: str | None = None,
                 budget: Any = None, metadata: Mapping[str, Any] | None = None,
                 **call_kwargs: Any) -> BatchJob:
    """Route every input, store the job, and submit it. Returns at once; ``wait()`` polls.

    ``lane``: ``"batch"`` (provider Batch APIs) or ``"flex"``; ``fallback_lanes`` the lanes an
    item may use when its model lacks ``lane`` (else ``BatchLaneUnavailableError`` naming the
    item). ``retry``: retry unanswered items (expired, cancelled, missing) on realtime, or the
    list of item states to retry. ``sinks``: cost handlers / ledgers given one record per item.
    ``call_kwargs``: per-call routing options (``level=``, ``model=``, ``max_tokens=`` ...).
    ``budget``: a :class:`~langchain_costrouter.budget.BudgetGuard`; each provider batch
    reserves its estimate at batch prices (scopes from ``metadata``) before any is created, and
    settles with its items' actual cost when collected (see :mod:`.budgeting`). Items served
    on realtime go through the guard's normal path (``guard.wrap``); flex items reserve their
    estimate and settle their actual cost.
    """
    st = _store(store)
    planned = plan_job(router, inputs, lane=lane, fallback_lanes=fallback_lanes, limits=limits,
                       retry=retry, job_id=job_id, call_kwargs=call_kwargs)
    row = planned.job
    if budget is not None:
        row = replace(row, options=json.dumps({**row.opts(), "budget": _scopes(metadata)}))
    st.create_job(row, planned.chunks, planned.items)
    job = BatchJob(row.id, st, router=router, sinks=sinks, transports=transports, budget=budget)
    job.submit()
    return job


def _scopes(metadata: Mapping[str, Any] | None) -> dict[str, str]:
    """The budget scopes of ``metadata`` as stored with the job (API keys already hashed)."""
    return {k: v for k, v in scopes_of(metadata).items() if k != "global" and v != ANONYMOUS}


async def asubmit_batch(router: Any, inputs: Sequence[Any], **kwargs: Any) -> BatchJob:
    """:func:`submit_batch` for asyncio (planning and uploads run in a worker thread)."""
    return await asyncio.to_thread(lambda: submit_batch(router, inputs, **kwargs))
