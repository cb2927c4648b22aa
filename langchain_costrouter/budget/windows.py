"""Budget windows: hourly, daily or monthly; calendar (reset at the boundary) or rolling.

A window turns a timestamp into the *bucket* a charge lands in and the first bucket still
counted (``since``). Stores only ever sum ``bucket >= since``, so they need no calendar logic:

* **calendar** windows have one bucket per period, starting at the period's boundary in the
  window's time zone (UTC by default); everything resets at the next boundary.
* **rolling** windows are split into :data:`ROLLING_SLICES` slices (1 minute for an hour,
  24 minutes for a day, 12 hours for a 30-day month). The window is the current slice and the
  59 before it, so usage ages out in steps of one slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo

from langchain_costrouter.exceptions import ConfigError

Period = Literal["hour", "day", "month"]
PERIODS: dict[str, int] = {"hour": 3600, "day": 86_400, "month": 30 * 86_400}
"""Length in seconds; a rolling month is 30 days."""
ROLLING_SLICES = 60


@dataclass(frozen=True, slots=True)
class Window:
    """A budget period. ``Window("day")`` is the calendar day in UTC."""

    period: Period = "day"
    rolling: bool = False
    """``True``: the last hour/day/30 days; ``False``: the current calendar hour/day/month."""
    tz: str = "UTC"
    """IANA time zone of calendar boundaries (ignored by rolling windows)."""

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ConfigError(
                f"unknown budget period {self.period!r}; use one of {', '.join(PERIODS)}"
            )
        try:
            self.zone  # noqa: B018 - validate the time zone once
        except Exception:
            raise ConfigError(f"unknown time zone {self.tz!r} for a budget window") from None

    @property
    def zone(self) -> timezone | ZoneInfo:
        return timezone.utc if self.tz.upper() == "UTC" else ZoneInfo(self.tz)

    @property
    def key(self) -> str:
        """Stable text id, part of the ledger counter key."""
        return f"{self.period}-rolling" if self.rolling else f"{self.period}-{self.tz}"

    @property
    def slice_s(self) -> int:
        return PERIODS[self.period] // ROLLING_SLICES

    def _start(self, now: float) -> datetime:
        t = datetime.fromtimestamp(now, self.zone)
        if self.period == "hour":
            return t.replace(minute=0, second=0, microsecond=0)
        t = t.replace(hour=0, minute=0, second=0, microsecond=0)
        return t.replace(day=1) if self.period == "month" else t

    def bucket(self, now: float) -> int:
        """Epoch second of the bucket a charge made at ``now`` lands in."""
        if self.rolling:
            return int(now // self.slice_s) * self.slice_s
        return int(self._start(now).timestamp())

    def since(self, now: float) -> int:
        """First bucket counted at ``now``."""
        if self.rolling:
            return self.bucket(now) - (ROLLING_SLICES - 1) * self.slice_s
        return self.bucket(now)

    def resets_at(self, now: float, oldest_bucket: int | None = None) -> datetime:
        """When usage counted now starts to drop: the next boundary, or the oldest slice's expiry.

        For rolling windows ``oldest_bucket`` (the oldest slice holding usage) gives the time it
        ages out; without it the whole window length is assumed.
        """
        if self.rolling:
            first = oldest_bucket if oldest_bucket is not None else self.bucket(now)
            at = first + ROLLING_SLICES * self.slice_s
            return datetime.fromtimestamp(at, timezone.utc)
        start = self._start(now)
        if self.period == "hour":
            nxt = start + timedelta(hours=1)
        elif self.period == "day":
            nxt = (start + timedelta(days=1, hours=3)).replace(hour=0)  # DST-safe
        else:
            nxt = (start + timedelta(days=32)).replace(day=1)
        # Rebuild through the zone so a DST change between now and the boundary is honoured.
        nxt = datetime(nxt.year, nxt.month, nxt.day, nxt.hour, tzinfo=self.zone)
        return nxt.astimezone(timezone.utc)

    def retention_s(self) -> int:
        """How long a bucket can still matter; older ones may be deleted."""
        return PERIODS[self.period] + (self.slice_s if self.rolling else 0) + 86_400 * 3

    def prune_before(self, now: float) -> int:
        """Buckets older than this may be deleted by a writer at ``now``.

        A whole window plus three days before the window start: a writer whose clock is a few
        days fast never deletes the current or the previous window of the others.
        """
        return self.since(now) - self.retention_s()
