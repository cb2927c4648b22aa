"""Breaker state in a SQLite file, shared by the processes of one machine.

WAL journal and ``BEGIN IMMEDIATE`` write transactions: a plain deferred ``BEGIN`` fails under
contention with "database is locked" (shared/notes/dependencies.md). Reads that change nothing
(a closed breaker letting a call through) take no write lock. One connection per thread.

Time is SQLite's own ``julianday('now')``, read in the same statement as the record (and again
inside the write transaction), never the caller's ``now``: processes whose injected or skewed
clocks disagree still share one timeline. ``clock=`` replaces it (tests drive time with it).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from langchain_costrouter.exceptions import LedgerUnavailableError
from langchain_costrouter.resilience import machine
from langchain_costrouter.resilience.machine import BreakerConfig, Record, Transition

T = TypeVar("T")

_SCHEMA = "CREATE TABLE IF NOT EXISTS breaker_state (key TEXT PRIMARY KEY, rec TEXT NOT NULL)"
_READ = ("SELECT (julianday('now') - 2440587.5) * 86400.0, "
         "(SELECT rec FROM breaker_state WHERE key = ?)")
"""The store's clock (Unix seconds, millisecond precision) and the record, in one statement."""


class SQLiteBreakerStore:
    """Shared breaker state in ``path`` (created if missing)."""

    shared = True

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 5.0,
                 clock: Callable[[], float] | None = None) -> None:
        """``clock``: seconds on the store's timeline (default SQLite's ``julianday('now')``)."""
        self.path = str(path)
        self.clock = clock
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        conn = self._conn()
        conn.execute(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s,
                                       isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:
                raise LedgerUnavailableError(
                    f"cannot open breaker store {self.path!r}: {exc}") from exc
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def _read(self, conn: sqlite3.Connection, key: str) -> tuple[float, Record | None]:
        """(the store's time, the record or None)."""
        now, raw = conn.execute(_READ, (key,)).fetchone()
        if self.clock is not None:
            now = self.clock()
        return float(now), None if raw is None else json.loads(raw)

    def _apply(self, key: str, cfg: BreakerConfig | None,
               step: Callable[[Record, float], tuple[T, bool]]) -> T:
        """Run ``step(record, store_now)``: first read-only, then in a write transaction if it
        changes anything (re-reading inside the transaction, so the decision is atomic).
        Without ``cfg`` a missing record stays missing (``step`` gets an empty dict)."""
        conn = self._conn()
        now, rec = self._read(conn, key)
        result, dirty = step(self._or_new(rec, cfg), now)
        if not dirty:
            return result
        conn.execute("BEGIN IMMEDIATE")
        try:
            now, rec = self._read(conn, key)
            rec = self._or_new(rec, cfg)
            result, dirty = step(rec, now)
            if dirty:
                conn.execute(
                    "INSERT INTO breaker_state (key, rec) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET rec = excluded.rec",
                    (key, json.dumps(rec, separators=(",", ":"))),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return result

    @staticmethod
    def _or_new(rec: Record | None, cfg: BreakerConfig | None) -> Record:
        if rec is not None:
            return rec
        return machine.new_record(cfg) if cfg is not None else {}

    def allow(self, key: str, now: float, cfg: BreakerConfig) -> tuple[int, Transition | None]:
        # ``now`` (the caller's clock) is ignored: the store measures on its own clock
        def step(rec: Record, t: float) -> tuple[tuple[int, Transition | None], bool]:
            grant, transition, dirty = machine.allow(rec, t, cfg)
            return (grant, transition), dirty

        return self._apply(key, cfg, step)

    def record(self, key: str, now: float, cfg: BreakerConfig, outcome: str, grant: int,
               cooldown_s: float = 0) -> Transition | None:
        return self._apply(
            key, cfg, lambda rec, t: machine.record(rec, t, cfg, outcome, grant, cooldown_s))

    def snapshot(self, key: str, now: float | None = None,
                 cfg: BreakerConfig | None = None) -> Record | None:
        if now is None or cfg is None:
            return self._read(self._conn(), key)[1]

        def step(rec: Record, t: float) -> tuple[Record | None, bool]:
            if not rec:
                return None, False
            rebased = machine.rebase(rec, t)
            return machine.to_frame(rec, t, now, cfg), rebased

        return self._apply(key, None, step)

    def reset(self, key: str) -> None:
        self._conn().execute("DELETE FROM breaker_state WHERE key = ?", (key,))

    def close(self) -> None:
        with self._conns_lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SQLiteBreakerStore({self.path!r})"
