"""Breaker state in a SQLite file, shared by the processes of one machine.

WAL journal and ``BEGIN IMMEDIATE`` write transactions: a plain deferred ``BEGIN`` fails under
contention with "database is locked" (shared/notes/dependencies.md). Reads that change nothing
(a closed breaker letting a call through) take no write lock. One connection per thread.
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


class SQLiteBreakerStore:
    """Shared breaker state in ``path`` (created if missing)."""

    shared = True

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = str(path)
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

    @staticmethod
    def _read(conn: sqlite3.Connection, key: str) -> Record | None:
        row = conn.execute("SELECT rec FROM breaker_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def _apply(self, key: str, cfg: BreakerConfig,
               step: Callable[[Record], tuple[T, bool]]) -> T:
        """Run ``step`` on the record: first read-only, then in a write transaction if it
        changes anything (re-reading inside the transaction, so the decision is atomic)."""
        conn = self._conn()
        rec = self._read(conn, key) or machine.new_record(cfg)
        result, dirty = step(rec)
        if not dirty:
            return result
        conn.execute("BEGIN IMMEDIATE")
        try:
            rec = self._read(conn, key) or machine.new_record(cfg)
            result, dirty = step(rec)
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

    def allow(self, key: str, now: float, cfg: BreakerConfig) -> tuple[int, Transition | None]:
        def step(rec: Record) -> tuple[tuple[int, Transition | None], bool]:
            grant, transition, dirty = machine.allow(rec, now, cfg)
            return (grant, transition), dirty

        return self._apply(key, cfg, step)

    def record(self, key: str, now: float, cfg: BreakerConfig, outcome: str, grant: int,
               cooldown_until: float = 0) -> Transition | None:
        return self._apply(
            key, cfg, lambda rec: machine.record(rec, now, cfg, outcome, grant, cooldown_until))

    def snapshot(self, key: str) -> Record | None:
        return self._read(self._conn(), key)

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
