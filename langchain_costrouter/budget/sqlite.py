"""SQLite ledger: the embedded default, shared by every process on one host.

* WAL journal, every write in ``BEGIN IMMEDIATE`` (a deferred ``BEGIN`` fails with "database
  is locked" under concurrency; measured in shared/notes/dependencies.md).
* ``synchronous=NORMAL`` by default: a committed transaction survives the process being killed
  (even ``kill -9``), as it is in the WAL file before ``commit()`` returns; only an OS crash or
  power loss can drop the last ones. Pass ``synchronous="FULL"`` to survive those too.
* The schema changes only through named, append-only migrations recorded in ``migrations``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from langchain_costrouter.budget.ledger import (
    OUTPUT_HISTORY,
    SETTLED_KEEP_S,
    Charge,
    Grant,
    Ledger,
    Tally,
    UsageRow,
    fits,
)
from langchain_costrouter.exceptions import ConfigError, LedgerUnavailableError

T = TypeVar("T")

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_buckets_and_reservations",
        """
        CREATE TABLE buckets (
            key TEXT NOT NULL, bucket INTEGER NOT NULL, amount INTEGER NOT NULL,
            PRIMARY KEY (key, bucket)) WITHOUT ROWID;
        CREATE TABLE reservations (
            id TEXT NOT NULL, key TEXT NOT NULL, bucket INTEGER NOT NULL,
            amount INTEGER NOT NULL, expires_at REAL NOT NULL,
            PRIMARY KEY (id, key, bucket)) WITHOUT ROWID;
        CREATE INDEX reservations_expiry ON reservations (expires_at);
        """,
    ),
    (
        "0002_usage_records",
        """
        CREATE TABLE usage_records (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, run_id TEXT,
            model TEXT, provider TEXT, tier TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
            cached_tokens INTEGER NOT NULL DEFAULT 0, reasoning_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd TEXT, scope TEXT, prompt TEXT, extra TEXT);
        CREATE INDEX usage_records_ts ON usage_records (ts);
        """,
    ),
    (
        "0003_settled_ids_and_output_lengths",
        """
        CREATE TABLE settled (id TEXT PRIMARY KEY, at REAL NOT NULL) WITHOUT ROWID;
        CREATE INDEX settled_at ON settled (at);
        CREATE INDEX reservations_key ON reservations (key, bucket);
        CREATE TABLE output_lengths (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL,
            tokens INTEGER NOT NULL, ts REAL NOT NULL);
        CREATE INDEX output_lengths_model ON output_lengths (model, seq);
        """,
    ),
]
"""Append only: never edit or reorder an applied migration, add a new one."""

_ROW_COLS = (
    "ts", "run_id", "model", "provider", "tier", "input_tokens", "output_tokens",
    "cached_tokens", "reasoning_tokens", "cost_usd", "scope", "prompt",
)


class SQLiteLedger(Ledger):
    """A ledger in one SQLite file; safe across threads and processes on the same host."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 5.0,
        synchronous: Literal["OFF", "NORMAL", "FULL"] = "NORMAL",
        store_prompts: bool = False,
    ) -> None:
        if synchronous not in {"OFF", "NORMAL", "FULL"}:
            raise ConfigError(f"synchronous must be OFF, NORMAL or FULL, got {synchronous!r}")
        self.path = os.fspath(path)
        if not self.path.strip():
            raise ConfigError(
                "SQLiteLedger needs a file path (an empty path would be a private temporary "
                "database that no other process sees); use InMemoryLedger() for one process"
            )
        self.store_prompts = store_prompts
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._migrate()
        except sqlite3.Error as e:
            raise LedgerUnavailableError(f"cannot open SQLite ledger {self.path!r}: {e}") from e

    def __repr__(self) -> str:
        return f"SQLiteLedger({self.path!r})"

    def _migrate(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL)"
            )
            done = {r[0] for r in db.execute("SELECT name FROM migrations")}
            for name, sql in MIGRATIONS:
                if name not in done:
                    for stmt in filter(str.strip, sql.split(";")):
                        db.execute(stmt)
                    db.execute(
                        "INSERT INTO migrations VALUES (?, ?)", (name, time.time())
                    )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def migrations(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM migrations ORDER BY rowid")]

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise LedgerUnavailableError(f"SQLite ledger {self.path!r}: {e}") from e
            try:
                out = fn(db)
                db.execute("COMMIT")
                return out
            except BaseException as e:
                db.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error):
                    raise LedgerUnavailableError(f"SQLite ledger {self.path!r}: {e}") from e
                raise

    @staticmethod
    def _expire(db: sqlite3.Connection, now: float) -> int:
        dead = db.execute(
            "SELECT id, key, bucket, amount FROM reservations WHERE expires_at <= ?", (now,)
        ).fetchall()
        for _, key, bucket, amount in dead:
            _add(db, key, bucket, -amount)
        if dead:
            db.execute("DELETE FROM reservations WHERE expires_at <= ?", (now,))
        return len({d[0] for d in dead})

    @staticmethod
    def _sum(db: sqlite3.Connection, key: str, since: int, now: float) -> Tally:
        """Read-only: expired reservations are left in place and subtracted."""
        used, oldest = db.execute(
            "SELECT COALESCE(SUM(amount), 0), MIN(CASE WHEN amount > 0 THEN bucket END) "
            "FROM buckets WHERE key = ? AND bucket >= ?",
            (key, since),
        ).fetchone()
        live, dead = db.execute(
            "SELECT COALESCE(SUM(CASE WHEN expires_at > ? THEN amount END), 0), "
            "COALESCE(SUM(CASE WHEN expires_at <= ? THEN amount END), 0) "
            "FROM reservations WHERE key = ? AND bucket >= ?",
            (now, now, key, since),
        ).fetchone()
        return Tally(used=int(used) - int(dead), oldest=oldest, reserved=int(live))

    @staticmethod
    def _prune(db: sqlite3.Connection, charges: Sequence[Charge]) -> None:
        for c in charges:
            if c.prune_before is not None:
                db.execute(
                    "DELETE FROM buckets WHERE key = ? AND bucket < ?", (c.key, c.prune_before)
                )

    def reserve(
        self, reservation_id: str, charges: Sequence[Charge], *, now: float, ttl: float
    ) -> Grant:
        def run(db: sqlite3.Connection) -> Grant:
            self._expire(db, now)
            self._prune(db, charges)
            tallies = tuple(self._sum(db, c.key, c.since, now) for c in charges)
            ok = fits(charges, tallies)
            if ok:
                for c in charges:
                    _add(db, c.key, c.bucket, c.amount)
                db.executemany(
                    "INSERT INTO reservations VALUES (?, ?, ?, ?, ?)",
                    [(reservation_id, c.key, c.bucket, c.amount, now + ttl) for c in charges],
                )
            return Grant(ok, tallies)

        return self._tx(run)

    def reconcile(self, reservation_id: str, charges: Sequence[Charge], *, now: float) -> bool:
        def run(db: sqlite3.Connection) -> bool:
            seen = db.execute(
                "INSERT INTO settled VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                (reservation_id, now),
            )
            if seen.rowcount == 0:
                return False  # a replay: already counted once
            db.execute("DELETE FROM settled WHERE at < ?", (now - SETTLED_KEEP_S,))
            held = db.execute(
                "SELECT key, bucket, amount FROM reservations WHERE id = ?", (reservation_id,)
            ).fetchall()
            reserved = {(k, b): a for k, b, a in held}
            for c in charges:
                _add(db, c.key, c.bucket, c.amount - reserved.pop((c.key, c.bucket), 0))
            for (k, b), a in reserved.items():
                _add(db, k, b, -a)
            db.execute("DELETE FROM reservations WHERE id = ?", (reservation_id,))
            return bool(held)

        return self._tx(run)

    def release(self, reservation_id: str, *, now: float) -> bool:
        def run(db: sqlite3.Connection) -> bool:
            held = db.execute(
                "SELECT key, bucket, amount FROM reservations WHERE id = ?", (reservation_id,)
            ).fetchall()
            for k, b, a in held:
                _add(db, k, b, -a)
            db.execute("DELETE FROM reservations WHERE id = ?", (reservation_id,))
            return bool(held)

        return self._tx(run)

    def tally(self, key: str, since: int, *, now: float) -> Tally:
        return self.tallies([(key, since)], now=now)[0]

    def tallies(self, queries: Sequence[tuple[str, int]], *, now: float) -> list[Tally]:
        with self._lock:  # a read: one snapshot, no write lock, nothing deleted
            db = self._db
            try:
                db.execute("BEGIN")
                try:
                    return [self._sum(db, k, s, now) for k, s in queries]
                finally:
                    db.execute("COMMIT")
            except sqlite3.Error as e:
                raise LedgerUnavailableError(f"SQLite ledger {self.path!r}: {e}") from e

    def note_output(self, model: str, tokens: int, *, now: float) -> None:
        def run(db: sqlite3.Connection) -> None:
            cur = db.execute(
                "INSERT INTO output_lengths (model, tokens, ts) VALUES (?, ?, ?)",
                (model, int(tokens), now),
            )
            if cur.lastrowid and cur.lastrowid % 64 == 0:  # trim now and then
                db.execute(
                    "DELETE FROM output_lengths WHERE model = ? AND seq <= ?",
                    (model, cur.lastrowid - 64 * OUTPUT_HISTORY),
                )

        self._tx(run)

    def recent_outputs(self, model: str, limit: int = 200) -> list[int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT tokens FROM output_lengths WHERE model = ? ORDER BY seq DESC LIMIT ?",
                (model, limit),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def expire(self, *, now: float) -> int:
        return self._tx(lambda db: self._expire(db, now))

    def pending(self, *, now: float) -> int:
        with self._lock:
            return int(self._db.execute(
                "SELECT COUNT(DISTINCT id) FROM reservations WHERE expires_at > ?", (now,)
            ).fetchone()[0])

    def record_usage(self, row: UsageRow) -> None:
        import json

        values: list[Any] = [getattr(row, c) for c in _ROW_COLS]
        extra = json.dumps(row.extra, sort_keys=True) if row.extra else None
        self._tx(lambda db: db.execute(
            f"INSERT INTO usage_records ({', '.join(_ROW_COLS)}, extra) "
            f"VALUES ({', '.join('?' * (len(_ROW_COLS) + 1))})",
            [*values, extra],
        ))

    def usage_rows(self, limit: int = 1000) -> list[UsageRow]:
        import json

        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_ROW_COLS)}, extra FROM usage_records "
                "ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        out = []
        for r in reversed(rows):
            d = dict(zip(_ROW_COLS, r[:-1], strict=True))
            out.append(UsageRow(**d, extra=json.loads(r[-1]) if r[-1] else {}))
        return out

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _add(db: sqlite3.Connection, key: str, bucket: int, amount: int) -> None:
    if amount:
        db.execute(
            "INSERT INTO buckets VALUES (?, ?, ?) "
            "ON CONFLICT (key, bucket) DO UPDATE SET amount = amount + excluded.amount",
            (key, bucket, amount),
        )
