"""The durable job store: one SQLite file holds every batch job, its provider batches
("chunks") and its items, so a process that dies can resume a job and collect it.

A chunk moves ``planned -> submitting -> submitted -> collected`` (or ``failed``); the state
is committed *before* each provider call, so a resumed job never submits a chunk twice. An
item is billed once: :meth:`JobStore.take_unbilled` flips ``billed`` in the same transaction
that returns the rows. The schema changes only through the append-only ``MIGRATIONS``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_costrouter.exceptions import ConfigError, UnknownBatchError

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY, created_at REAL NOT NULL, lane TEXT NOT NULL,
        n_items INTEGER NOT NULL, options TEXT NOT NULL, cancelled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE chunks (
        job_id TEXT NOT NULL, chunk_no INTEGER NOT NULL, tier TEXT NOT NULL,
        provider TEXT NOT NULL, model TEXT NOT NULL, kind TEXT NOT NULL,
        base_url TEXT NOT NULL, api_key_env TEXT, prices TEXT, n_items INTEGER NOT NULL,
        state TEXT NOT NULL, remote_id TEXT, input_file_id TEXT, submit_started REAL,
        remote_status TEXT, counts TEXT, error TEXT,
        PRIMARY KEY (job_id, chunk_no)
    );
    CREATE TABLE items (
        job_id TEXT NOT NULL, idx INTEGER NOT NULL, custom_id TEXT NOT NULL,
        chunk_no INTEGER, tier TEXT NOT NULL, lane TEXT NOT NULL, request TEXT NOT NULL,
        state TEXT NOT NULL, message TEXT, cost TEXT, error_kind TEXT, error TEXT,
        billed INTEGER NOT NULL DEFAULT 0, estimated_cost TEXT,
        PRIMARY KEY (job_id, idx)
    );
    CREATE INDEX items_chunk ON items (job_id, chunk_no);
    """,
    # a chunk's budget reservation (JSON, see batch.budgeting) and each item's token estimate
    """
    ALTER TABLE chunks ADD COLUMN budget TEXT;
    ALTER TABLE items ADD COLUMN estimated_tokens INTEGER;
    """,
)

ITEM_DONE = ("succeeded", "failed", "expired", "cancelled", "malformed", "missing")


@dataclass(frozen=True)
class ChunkRow:
    job_id: str
    chunk_no: int
    tier: str
    provider: str
    model: str
    kind: str
    base_url: str
    api_key_env: str | None
    prices: str | None
    n_items: int
    state: str
    remote_id: str | None = None
    input_file_id: str | None = None
    submit_started: float | None = None
    remote_status: str | None = None
    counts: str | None = None
    error: str | None = None
    budget: str | None = None
    """The chunk's budget reservation and its state (JSON; ``None``: no budget)."""


@dataclass(frozen=True)
class ItemRow:
    job_id: str
    idx: int
    custom_id: str
    chunk_no: int | None
    tier: str
    lane: str
    request: str
    state: str = "pending"
    message: str | None = None
    cost: str | None = None
    error_kind: str | None = None
    error: str | None = None
    billed: int = 0
    estimated_cost: str | None = None
    estimated_tokens: int | None = None

    def body(self) -> dict[str, Any]:
        return json.loads(self.request)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class JobRow:
    id: str
    created_at: float
    lane: str
    n_items: int
    options: str
    cancelled: int = 0

    def opts(self) -> dict[str, Any]:
        return json.loads(self.options)  # type: ignore[no-any-return]


class JobStore:
    """Batch jobs in a SQLite file (``":memory:"`` for a throwaway store)."""

    def __init__(self, path: str | Path = "costrouter-batches.db") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            parent = Path(self.path).parent
            if not parent.exists():
                raise ConfigError(f"batch store {self.path!r}: folder {str(parent)!r} is missing")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed state survives kill -9
        self._migrate()

    def __repr__(self) -> str:
        return f"JobStore({self.path!r})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _migrate(self) -> None:
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS migrations (n INTEGER PRIMARY KEY)")
            done = {r[0] for r in self._db.execute("SELECT n FROM migrations")}
            for n, sql in enumerate(MIGRATIONS):
                if n not in done:
                    script = f"BEGIN; {sql}; INSERT INTO migrations VALUES ({n}); COMMIT;"
                    self._db.executescript(script)

    # writes -------------------------------------------------------------------------------

    def create_job(self, job: JobRow, chunks: Sequence[ChunkRow], items: Sequence[ItemRow]) -> None:
        """Write a whole job in one transaction: it exists completely or not at all."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("INSERT INTO jobs VALUES (?,?,?,?,?,?)",
                                 (job.id, job.created_at, job.lane, job.n_items, job.options,
                                  job.cancelled))
                self._db.executemany(
                    f"INSERT INTO chunks VALUES ({_marks(ChunkRow)})",
                    [tuple(c.__dict__.values()) for c in chunks])
                self._db.executemany(
                    f"INSERT INTO items VALUES ({_marks(ItemRow)})",
                    [tuple(i.__dict__.values()) for i in items])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def set_chunk(self, job_id: str, chunk_no: int, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db.execute(f"UPDATE chunks SET {cols} WHERE job_id = ? AND chunk_no = ?",
                             (*fields.values(), job_id, chunk_no))

    def set_cancelled(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE jobs SET cancelled = 1 WHERE id = ?", (job_id,))

    def set_items(self, job_id: str, updates: Iterable[dict[str, Any]],
                  chunk: tuple[int, dict[str, Any]] | None = None) -> None:
        """Store item outcomes (each dict has ``idx`` and the columns to set), and optionally
        a chunk's new fields, in one transaction. A billed item is never changed again."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for u in updates:
                    u = dict(u)
                    idx = u.pop("idx")
                    cols = ", ".join(f"{k} = ?" for k in u)
                    self._db.execute(
                        f"UPDATE items SET {cols} WHERE job_id = ? AND idx = ? AND billed = 0",
                        (*u.values(), job_id, idx))
                if chunk is not None:
                    no, fields = chunk
                    cols = ", ".join(f"{k} = ?" for k in fields)
                    self._db.execute(
                        f"UPDATE chunks SET {cols} WHERE job_id = ? AND chunk_no = ?",
                        (*fields.values(), job_id, no))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def take_unbilled(self, job_id: str) -> list[ItemRow]:
        """Succeeded items not yet billed, now marked billed (at most once, even across
        processes sharing the file)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute(
                    "SELECT * FROM items WHERE job_id = ? AND state = 'succeeded' AND billed = 0 "
                    "ORDER BY idx", (job_id,)).fetchall()
                self._db.execute(
                    "UPDATE items SET billed = 1 WHERE job_id = ? AND state = 'succeeded' "
                    "AND billed = 0", (job_id,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [ItemRow(*r) for r in rows]

    # reads --------------------------------------------------------------------------------

    def job(self, job_id: str) -> JobRow:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            known = [j.id for j in self.jobs()[-5:]]
            raise UnknownBatchError(job_id, f"store {self.path!r}", known)
        return JobRow(*row)

    def jobs(self) -> list[JobRow]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY created_at").fetchall()
        return [JobRow(*r) for r in rows]

    def chunks(self, job_id: str) -> list[ChunkRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM chunks WHERE job_id = ? ORDER BY chunk_no", (job_id,)).fetchall()
        return [ChunkRow(*r) for r in rows]

    def items(self, job_id: str, *, chunk_no: int | None = None,
              states: Sequence[str] | None = None) -> list[ItemRow]:
        sql, args = "SELECT * FROM items WHERE job_id = ?", [job_id]
        if chunk_no is not None:
            sql += " AND chunk_no = ?"
            args.append(chunk_no)  # type: ignore[arg-type]
        if states is not None:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args.extend(states)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY idx", args).fetchall()
        return [ItemRow(*r) for r in rows]

    def counts(self, job_id: str) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT state, COUNT(*) FROM items WHERE job_id = ? GROUP BY state",
                (job_id,)).fetchall()
        return {str(s): int(n) for s, n in rows}


def _marks(row: type) -> str:
    return ",".join("?" * len(row.__dataclass_fields__))
