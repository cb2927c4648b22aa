"""Windows (calendar and rolling, time zones), budget configuration, scopes, SQLite migrations."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from langchain_costrouter.budget import Budget, BudgetGuard, SQLiteLedger, Window, scopes_of
from langchain_costrouter.budget.ledger import usd_to_nano
from langchain_costrouter.budget.windows import ROLLING_SLICES
from langchain_costrouter.exceptions import ConfigError

UTC = timezone.utc


def ts(*a: int, tz: timezone | ZoneInfo = UTC) -> float:
    return datetime(*a, tzinfo=tz).timestamp()


@pytest.mark.parametrize(
    ("period", "now", "start", "reset"),
    [
        ("hour", (2026, 3, 10, 12, 59, 59), (2026, 3, 10, 12), (2026, 3, 10, 13)),
        ("day", (2026, 3, 10, 23, 59), (2026, 3, 10), (2026, 3, 11)),
        ("month", (2026, 12, 31, 23), (2026, 12, 1), (2027, 1, 1)),
        ("month", (2028, 2, 29, 5), (2028, 2, 1), (2028, 3, 1)),
    ],
)
def test_calendar_windows_in_utc(period: str, now: tuple, start: tuple, reset: tuple) -> None:
    w = Window(period)  # type: ignore[arg-type]
    t = ts(*now)
    assert w.bucket(t) == w.since(t) == ts(*start)
    assert w.resets_at(t) == datetime(*reset, tzinfo=UTC)


def test_calendar_day_follows_the_configured_time_zone_across_dst() -> None:
    ny = ZoneInfo("America/New_York")
    w = Window("day", tz="America/New_York")
    t = ts(2026, 3, 8, 1, 30, tz=ny)  # DST starts at 02:00 that day (a 23-hour day)
    assert w.bucket(t) == ts(2026, 3, 8, tz=ny)
    assert w.resets_at(t) == datetime(2026, 3, 9, tzinfo=ny).astimezone(UTC)
    assert w.resets_at(t) - datetime.fromtimestamp(w.bucket(t), UTC) == (
        datetime(2026, 3, 9, 4, tzinfo=UTC) - datetime(2026, 3, 8, 5, tzinfo=UTC))
    assert w.key != Window("day").key


def test_rolling_window_counts_the_last_sixty_slices() -> None:
    w = Window("hour", rolling=True)
    t = ts(2026, 3, 10, 12, 30, 45)
    assert w.slice_s == 60
    assert w.bucket(t) == ts(2026, 3, 10, 12, 30)
    assert w.since(t) == w.bucket(t) - (ROLLING_SLICES - 1) * 60
    assert w.resets_at(t, oldest_bucket=int(ts(2026, 3, 10, 11, 45))) == datetime(
        2026, 3, 10, 12, 45, tzinfo=UTC)
    assert Window("month", rolling=True).slice_s == 12 * 3600


def test_bad_windows_and_budgets_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="'week'"):
        Window("week")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        Window("day", tz="Mars/Olympus")
    with pytest.raises(ConfigError, match="-5"):
        Budget.tokens(-5)
    with pytest.raises(ConfigError, match="whole number"):
        Budget(limit=Decimal("1.5"), unit="tokens")
    with pytest.raises(ConfigError, match="'lots'"):
        Budget.usd("lots")
    with pytest.raises(ConfigError, match="unique"):
        BudgetGuard(budgets=[Budget.tokens(1), Budget.tokens(2)])
    with pytest.raises(ConfigError, match="at least one"):
        BudgetGuard(budgets=[])


def test_default_names_tell_unit_window_and_scope() -> None:
    assert Budget.tokens(1, per="hour").name == "tokens/hour"
    assert Budget.usd(1, per="day", rolling=True, scope="team").name == "usd/day-rolling/team"
    assert Budget.usd(1, per="day", tz="Europe/Paris").name == "usd/day@Europe/Paris"


def test_usd_rounding_never_overspends() -> None:
    assert usd_to_nano(Decimal("0.0000000011")) == 2  # a cost rounds up
    assert usd_to_nano(Decimal("0.0000000019"), limit=True) == 1  # a limit rounds down
    b = Budget.usd("5", scope="user", overrides={"alice": "20.5"})
    assert b.ledger_limit("alice") == 20_500_000_000 and b.ledger_limit("bob") == 5_000_000_000


def test_scopes_hash_api_keys_and_refuse_separator_characters() -> None:
    s = scopes_of({"user": "u1", "api_key": "sk-live-abc"})
    assert s["user"] == "u1" and s["team"] == "anonymous"
    assert s["api_key"].startswith("sha256:") and "sk-live" not in s["api_key"]
    assert scopes_of({"api_key": s["api_key"]})["api_key"] == s["api_key"]  # already hashed
    with pytest.raises(ConfigError, match="control character"):
        scopes_of({"user": "a|b"})


def test_sqlite_migrations_are_named_applied_once_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    first = SQLiteLedger(path)
    names = first.migrations()
    first.close()
    again = SQLiteLedger(path)  # reopening applies nothing twice
    assert again.migrations() == names == [
        "0001_buckets_and_reservations", "0002_usage_records",
            "0003_settled_ids_and_output_lengths"]
    mode = again._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    again.close()
