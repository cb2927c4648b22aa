"""A batch job under a budget guard: each provider batch ("chunk") reserves its estimate at
batch prices before it is created, and settles with its items' actual cost when collected.

The reservation's life is kept on the chunk row of the job store (column ``budget``, JSON):

``reserving -> reserved -> settling -> settled`` (or ``-> releasing -> released``)

* ``reserving`` is committed before the ledger call; a resumed job releases the id first (a
  release of an unknown id is a no-op), then reserves again, so a crash there holds nothing twice.
* ``settling`` is committed *in the same transaction* that marks the chunk collected and stores
  its items, together with the actual amounts. The ledger's reconcile follows; a crash between
  the two is replayed on resume with the same id and amounts, and the ledger ignores a second
  reconcile of an id (for 3 days, ``SETTLED_KEEP_S``, longer than the reservation's TTL),
  so the chunk is charged exactly once.
* ``releasing`` is committed with a chunk that failed (a 4xx at create, failed validation).

The reservation id is ``"<job id>-<chunk>"`` and its TTL (:data:`RESERVATION_TTL_S`, 26 h)
outlives the providers' 24 h completion window, so a running job keeps its room.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from langchain_costrouter.batch.store import ChunkRow, ItemRow, JobStore
from langchain_costrouter.budget.amounts import AmountReservation, check_amount
from langchain_costrouter.exceptions import (
    BudgetBusyError,
    BudgetExceededError,
    BudgetUnpricedError,
    ConfigError,
)

RESERVATION_TTL_S = 26 * 3600.0
"""A chunk's reservation lives this long: the provider's 24 h window plus two hours."""
OPEN = ("reserving", "reserved", "settling", "releasing")


def state_of(chunk: ChunkRow) -> dict[str, Any] | None:
    return None if chunk.budget is None else json.loads(chunk.budget)  # type: ignore[no-any-return]


def dump(state: Mapping[str, Any]) -> str:
    return json.dumps(dict(state))


def estimate(items: Iterable[ItemRow]) -> tuple[Decimal | None, int]:
    """A chunk's estimate: dollars (``None``: an item is unpriced) and tokens."""
    usd: Decimal | None = Decimal(0)
    tokens = 0
    for it in items:
        usd = None if usd is None or it.estimated_cost is None else usd + Decimal(it.estimated_cost)
        tokens += int(it.estimated_tokens or 0)
    return usd, tokens


def actual(updates: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """What a collected chunk's answered items cost (``usd`` ``None``: one is unpriced)."""
    usd: Decimal | None = Decimal(0)
    tokens = 0
    for u in updates:
        if u.get("state") != "succeeded":
            continue
        cost = u.get("cost")
        usd = None if usd is None or cost is None else usd + Decimal(cost)
        um = json.loads(u["message"])["usage_metadata"]
        tokens += int(um["input_tokens"]) + int(um["output_tokens"])
    return {"usd": None if usd is None else str(usd), "tokens": tokens}


class ChunkBudgets:
    """The budget side of one job's chunks (``guard`` may be ``None``: then it only checks)."""

    def __init__(self, guard: Any, store: JobStore, job_id: str, scopes: Mapping[str, str] | None,
                 ) -> None:
        self.guard = guard
        self.store = store
        self.job_id = job_id
        self.scopes = scopes

    @property
    def active(self) -> bool:
        return self.scopes is not None

    def need_guard(self) -> None:
        if self.active and self.guard is None:
            raise ConfigError(
                f"batch job {self.job_id} was submitted under a budget: resume it with the "
                "same guard, BatchJob.resume(id, store=..., budget=guard), so it can reserve "
                "and settle")

    def _set(self, chunk_no: int, state: Mapping[str, Any]) -> None:
        self.store.set_chunk(self.job_id, chunk_no, budget=dump(state))

    def rid(self, chunk: ChunkRow) -> str:
        return f"{self.job_id}-{chunk.chunk_no}"

    # reserving ------------------------------------------------------------------------------

    def reserve_planned(self, chunks: Iterable[ChunkRow]) -> None:
        """Reserve every planned chunk's estimate, all or none: when one does not fit, the
        ones reserved here are released and the error is raised before anything is sent."""
        if not self.active:
            return
        self.need_guard()
        todo = [c for c in chunks if c.state == "planned"
                and (state_of(c) or {"state": "planned"})["state"] in ("planned", "reserving")]
        if not todo:
            return
        try:
            estimates = [estimate(self.store.items(self.job_id, chunk_no=c.chunk_no))
                         for c in todo]
            usds = [u for u, _ in estimates]
            check_amount(self.guard, usd=None if None in usds else sum(usds, Decimal(0)),
                         tokens=sum(t for _, t in estimates), metadata=self.scopes,
                         model=todo[0].tier)
            for chunk, (usd, tokens) in zip(todo, estimates, strict=True):
                st = state_of(chunk) or {"state": "planned"}
                if st["state"] == "reserving":  # a crash mid-reserve: it may hold the room
                    self.guard.release_amount(self.rid(chunk))
                self._set(chunk.chunk_no, {"state": "reserving"})
                res = self.guard.reserve_amount(
                    self.rid(chunk), usd=usd, tokens=tokens, metadata=self.scopes,
                    ttl=RESERVATION_TTL_S, model=chunk.tier)
                self._set(chunk.chunk_no, {"state": "reserved", "res": res.to_json(),
                                           "estimate": {"usd": None if usd is None else str(usd),
                                                        "tokens": tokens}})
        except (BudgetExceededError, BudgetBusyError, BudgetUnpricedError) as e:
            for chunk in self.store.chunks(self.job_id):
                st = state_of(chunk)
                if st and st["state"] in ("reserving", "reserved") and chunk.state == "planned":
                    self.guard.release_amount(self.rid(chunk))
                    self._set(chunk.chunk_no, {"state": "planned"})
            e.add_note(f"batch job {self.job_id}: nothing was submitted (its estimate does not "
                       "fit the budget); BatchJob.resume(id, budget=guard) submits it later")
            raise

    # collecting -----------------------------------------------------------------------------

    def settling(self, chunk: ChunkRow, updates: Iterable[Mapping[str, Any]]) -> dict[str, str]:
        """The chunk field to commit with its collected items (empty: no budget)."""
        st = state_of(chunk)
        if st is None or st["state"] != "reserved":
            return {}
        return {"budget": dump({**st, "state": "settling", "actual": actual(updates)})}

    def releasing(self, chunk: ChunkRow) -> dict[str, str]:
        """The chunk field to commit with a failed chunk (empty: no budget)."""
        st = state_of(chunk)
        if st is None or st["state"] not in ("reserving", "reserved"):
            return {}
        return {"budget": dump({**st, "state": "releasing"})}

    def finish(self) -> None:
        """Settle or release every chunk whose outcome is committed but not yet in the ledger
        (just now, or by a process that died before it got there)."""
        if not self.active:
            return
        for chunk in self.store.chunks(self.job_id):
            st = state_of(chunk)
            if st is None or st["state"] not in ("settling", "releasing"):
                continue
            self.need_guard()
            res = AmountReservation.from_json(st["res"]) if st.get("res") else None
            if st["state"] == "releasing":
                ok = self.guard.release_amount(res or self.rid(chunk))
                nxt = "released"
            else:
                assert res is not None
                act = st["actual"]
                ok = self.guard.settle_amount(res, usd=act["usd"], tokens=act["tokens"])
                nxt = "settled"
            if ok:
                self._set(chunk.chunk_no, {**st, "state": nxt})
