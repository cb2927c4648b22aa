"""A LangChain callback handler that prices every model call exactly once.

Works with ``ChatCostRouter`` (its ``response_metadata["costrouter"]`` gives level, tier and an
already computed ``cost_usd``, used as is) and with any other chat model or LLM (model and
provider from ``response_metadata`` or the ``invocation_params``/``ls_*`` metadata of the start
event, priced from the catalog or genai-prices).

Exactly once:

* Only LLM runs are counted; chains, tools and retrievers are only followed (``run_id`` ->
  ``parent_run_id``) to see which LLM runs sit inside another LLM run.
* An LLM run with an LLM-run ancestor (a wrapper model that hands its callbacks down) is not
  counted; its outermost LLM ancestor is. When that outer run reports no usage, the usage of
  the inner runs is used instead of a tiktoken estimate.
* A wrapper that calls its inner model *without* passing callbacks is invisible in the run
  tree (in a chain its inner run is a sibling). It returns the inner model's message, so the
  message id repeats: a run that ends with the id of a message counted for a run that started
  after it (so ran inside it) is skipped as a duplicate.

Async: a sync handler is normally run by langchain-core in a thread-pool executor for every
event (``run_in_executor`` in ``_ahandle_event_for_handler``), one hop per streamed token. This
handler sets ``run_inline = True``: its work is a few dict operations under a short lock, so it
runs in the event loop; sinks are called there too and must be fast (or buffer). Every entry
point is guarded by one lock, so threads (``batch``, thread pools) are safe too.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from langchain_costrouter.costs.build import Run, build_record
from langchain_costrouter.costs.groups import GroupTotals, normalize_keys, warn_unknown
from langchain_costrouter.costs.pricer import Pricer
from langchain_costrouter.costs.record import CallRecord, RecordSink
from langchain_costrouter.costs.stats import Totals
from langchain_costrouter.costs.summary import (
    UNKNOWN_MODEL,
    UNROUTED,
    CostSummary,
    build_summary,
    reason_key,
)
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.models.catalog import Catalog
from langchain_costrouter.redact import scrub, scrub_text

logger = logging.getLogger(__name__)

_MAX_GROUPS = 1000  # distinct models/levels kept apart; more go to "(other)"
_SEEN_IDS = 4096  # message ids remembered for wrapper de-duplication


class CostTrackingCallbackHandler(BaseCallbackHandler):
    """Counts tokens, cost and latency of every model call, once.

    Args:
        catalog: Prices and tokenizers of known models (default ``Catalog.default()``, built on
            first use). Other models are priced from genai-prices; unknown ones cost ``None``.
        max_records: Size of the ring buffer of recent records (``0`` keeps none). Totals,
            breakdowns and latency percentiles always cover every call.
        sinks: Objects with ``write(record)`` that receive each record (e.g. a ledger).
        store_prompts: Keep the prompt text in each record (off by default).
        clock: Monotonic seconds, for latency (inject a fake one in tests).
        wall_clock: Unix seconds, for ``CallRecord.timestamp``.
        max_open_runs: Bound on runs awaiting their end event (abandoned runs are evicted).
        group_by: Metadata key(s) whose totals are kept for every call (``"user"``, or
            ``["user", "team"]`` for one group per pair); ``summary()`` then has ``by_group``.
    """

    run_inline: bool = True
    raise_error: bool = False

    def __init__(
        self,
        *,
        catalog: Catalog | None = None,
        max_records: int = 10_000,
        sinks: Sequence[RecordSink] = (),
        store_prompts: bool = False,
        clock: Callable[[], float] = time.perf_counter,
        wall_clock: Callable[[], float] = time.time,
        max_open_runs: int = 100_000,
        group_by: str | Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(max_records, int) or max_records < 0:
            raise ConfigError(f"max_records must be an int >= 0, got {max_records!r}")
        if not isinstance(max_open_runs, int) or max_open_runs < 1:
            raise ConfigError(f"max_open_runs must be an int >= 1, got {max_open_runs!r}")
        for s in sinks:
            if not isinstance(s, RecordSink):
                raise ConfigError(f"sink {s!r} has no write(record) method")
        try:
            self._group_keys = None if group_by is None else normalize_keys(group_by)
        except TypeError as e:
            raise ConfigError(str(e)) from None
        self.store_prompts = store_prompts
        self.max_records = max_records
        self._clock = clock
        self._wall_clock = wall_clock
        self._max_open = max_open_runs
        self._pricer = Pricer(catalog)
        self._sinks: list[RecordSink] = list(sinks)
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._reset_state()

    def _reset_state(self) -> None:
        self._records: deque[CallRecord] = deque(maxlen=self.max_records)
        self._total = Totals()
        self._by_model: dict[str, Totals] = {}
        self._by_level: dict[str, Totals] = {}
        self._by_served: dict[str, Totals] = {}
        self._by_reason: dict[str, Totals] = {}
        self._runs: dict[UUID, Run] = {}
        self._parents: dict[UUID, UUID | None] = {}
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._nested = 0
        self._duplicates = 0
        self._sink_errors = 0
        self._groups = GroupTotals(self._group_keys) if self._group_keys else None

    def __repr__(self) -> str:
        t = self._total
        return (
            f"{type(self).__name__}(requests={t.requests}, total_cost={t.cost}, "
            f"unpriced={t.unpriced}, records={len(self._records)}/{self.max_records})"
        )

    # public API ---------------------------------------------------------------------------

    @property
    def records(self) -> list[CallRecord]:
        """The most recent records (up to ``max_records``), oldest first."""
        with self._lock:
            return list(self._records)

    @property
    def total_cost(self) -> Decimal:
        """USD over priced calls; see ``summary().cost_is_lower_bound``."""
        with self._lock:
            return self._total.cost

    def summary(self, group_by: str | Sequence[str] | None = None) -> CostSummary:
        """Totals and breakdowns; ``group_by`` adds ``by_group`` for any metadata key(s).

        A grouping declared on the handler (``group_by=``) covers every call; another one is
        computed from the retained records (``groups_exact`` says whether that is all calls).
        """
        try:
            keys = self._group_keys if group_by is None else normalize_keys(group_by)
        except TypeError as e:
            raise ConfigError(str(e)) from None
        with self._lock:
            groups, exact = self._groups, True
            if keys is not None and keys != self._group_keys:
                groups = GroupTotals(keys)
                for r in self._records:
                    groups.add(r)
                exact = len(self._records) == self._total.requests
            out = build_summary(
                self._total,
                self._by_model,
                self._by_level,
                nested_runs_skipped=self._nested,
                duplicate_runs_skipped=self._duplicates,
                sink_errors=self._sink_errors,
                groups=groups if keys is not None else None,
                groups_exact=exact,
                by_served_level=self._by_served,
                by_reason=self._by_reason,
            )
        if groups is not None and keys is not None and out.requests:
            warn_unknown(keys, groups.seen)
        return out

    def add_sink(self, sink: RecordSink) -> None:
        if not isinstance(sink, RecordSink):
            raise ConfigError(f"sink {sink!r} has no write(record) method")
        with self._lock:
            self._sinks = [*self._sinks, sink]

    def remove_sink(self, sink: RecordSink) -> None:
        """Stop writing to ``sink`` (its last occurrence); unknown sinks are ignored."""
        with self._lock:
            sinks = list(self._sinks)
            for i in range(len(sinks) - 1, -1, -1):
                if sinks[i] is sink:
                    del sinks[i]
                    break
            self._sinks = sinks

    def reset(self) -> None:
        """Forget every record and total (open runs too)."""
        with self._lock:
            self._reset_state()

    def record(self, record: CallRecord) -> None:
        """Count one finished call: ring buffer, totals, breakdowns, then the sinks."""
        with self._lock:
            self._records.append(record)
            self._total.add(record)
            _group(self._by_model, record.model or UNKNOWN_MODEL).add(record)
            _group(self._by_level, record.level or UNROUTED).add(record)
            _group(self._by_served, record.served_level or UNROUTED).add(record)
            _group(self._by_reason, reason_key(record)).add(record)
            if self._groups is not None:
                self._groups.add(record)
            sinks = self._sinks
        for sink in sinks:
            try:
                sink.write(record)
            except Exception as e:
                logger.warning("cost record sink %r failed: %s", sink, scrub_text(repr(e)))
                with self._lock:
                    self._sink_errors += 1

    write = record  # the handler is itself a RecordSink (nested ``track_costs`` blocks)

    # run tree -----------------------------------------------------------------------------

    def _enter(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        with self._lock:
            if len(self._parents) >= self._max_open:
                self._parents.pop(next(iter(self._parents)))
            self._parents[run_id] = parent_run_id

    def _leave(self, run_id: UUID) -> None:
        with self._lock:
            self._parents.pop(run_id, None)

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._enter(run_id, parent_run_id)

    def on_tool_start(self, serialized: Any, input_str: Any, *, run_id: UUID,
                      parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._enter(run_id, parent_run_id)

    def on_retriever_start(self, serialized: Any, query: Any, *, run_id: UUID,
                           parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._enter(run_id, parent_run_id)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._leave(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._leave(run_id)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._leave(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._leave(run_id)

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._leave(run_id)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._leave(run_id)

    # LLM runs -----------------------------------------------------------------------------

    def on_chat_model_start(
        self, serialized: Any, messages: list[list[BaseMessage]], *, run_id: UUID,
        parent_run_id: UUID | None = None, tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None, **kwargs: Any,
    ) -> None:
        self._start(run_id, parent_run_id, tags, metadata, kwargs.get("invocation_params"),
                    messages=list(messages[0]) if messages else [])

    def on_llm_start(
        self, serialized: Any, prompts: list[str], *, run_id: UUID,
        parent_run_id: UUID | None = None, tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None, **kwargs: Any,
    ) -> None:
        self._start(run_id, parent_run_id, tags, metadata, kwargs.get("invocation_params"),
                    prompts=list(prompts))

    def _start(
        self, run_id: UUID, parent: UUID | None, tags: list[str] | None,
        metadata: dict[str, Any] | None, params: dict[str, Any] | None, *,
        messages: list[BaseMessage] | None = None, prompts: list[str] | None = None,
    ) -> None:
        meta = metadata or {}
        params = params or {}
        requested = params.get("model") or params.get("model_name") or meta.get("ls_model_name")
        tools = params.get("tools")
        run = Run(
            run_id=run_id, seq=0, parent=parent, start=self._clock(), timestamp=self._wall_clock(),
            tags=tuple(tags or ()),
            metadata=scrub({k: v for k, v in meta.items() if not k.startswith(("ls_", "lc_"))}),
            requested=str(requested) if requested else None,
            provider=meta.get("ls_provider"),
            messages=messages, prompts=prompts,
            tools=tools if isinstance(tools, list) else None,
        )
        with self._lock:
            run.seq = next(self._seq)
            p, hops = parent, 0
            while p is not None and hops < 10_000:
                ancestor = self._runs.get(p)
                if ancestor is not None:
                    run.outer = ancestor.outer or p
                    break
                p, hops = self._parents.get(p), hops + 1
            if len(self._runs) >= self._max_open:
                self._runs.pop(next(iter(self._runs)))
            self._runs[run_id] = run

    def on_llm_new_token(self, token: Any, *, chunk: Any = None, run_id: UUID,
                         **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        run.streamed = True
        if run.ttft is None and (token or getattr(getattr(chunk, "message", None),
                                                  "tool_call_chunks", None)):
            run.ttft = self._clock() - run.start

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, response, None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, kwargs.get("response"), error)

    def _end(self, run_id: UUID, response: LLMResult | None, error: BaseException | None) -> None:
        end = self._clock()
        with self._lock:
            run = self._runs.pop(run_id, None)
            if run is None:
                return
            if run.outer is not None:
                self._nested += 1
                outer = self._runs.get(run.outer)
                if outer is not None and error is None and response is not None:
                    outer.inner.append((run, response, end))
                return
        rec, message_id = build_record(self._pricer, run, response, end, error,
                                       store_prompts=self.store_prompts)
        if message_id is not None:
            with self._lock:
                if self._seen.get(message_id, -1) > run.seq:
                    self._duplicates += 1
                    return
                self._seen[message_id] = run.seq
                if len(self._seen) > _SEEN_IDS:
                    self._seen.popitem(last=False)
        self.record(rec)


def _group(groups: dict[str, Totals], key: str) -> Totals:
    t = groups.get(key)
    if t is None:
        if len(groups) >= _MAX_GROUPS:
            key = "(other)"
            t = groups.get(key)
        if t is None:
            t = groups[key] = Totals()
    return t
