"""Grouping cost records by metadata keys (a tenant, a team, a feature ...): one or several keys.

A record's group is the tuple of its values for the keys, looked up in its run ``metadata``
first, then among the record's own fields (``model``, ``level``, ``tier``, ``provider``,
``status``, and the router's ``scored_level``, ``served_level`` and ``reason``). A missing
or empty value groups as ``"(none)"``; a key that no record carries warns once per process (a
typo would otherwise put every call under ``"(none)"`` silently).

:class:`GroupTotals` keeps running totals per group in fixed memory (at most ``max_groups``
groups, then ``"(other)"``), so a handler built with ``group_by=`` is exact over every call;
:func:`summarize` groups any iterable of records in one pass (a JSON lines file streams
through it with memory bounded by the number of groups, not of records).
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterable, Sequence

from langchain_costrouter.costs.record import CallRecord
from langchain_costrouter.costs.stats import Totals

NONE = "(none)"
OTHER = "(other)"
MAX_GROUPS = 1000
_FIELDS = ("model", "level", "tier", "provider", "status", "scored_level", "served_level",
           "reason")

GroupKey = str | tuple[str, ...]
"""One key: the value (``"alice"``); several keys: a tuple of values (``("alice", "eu")``)."""

_warned: set[str] = set()
_warn_lock = threading.Lock()


def normalize_keys(group_by: str | Sequence[str]) -> tuple[str, ...]:
    """``"user"`` or ``["user", "team"]`` -> a tuple of keys; anything else is a TypeError."""
    keys = (group_by,) if isinstance(group_by, str) else tuple(group_by)
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise TypeError(f"group_by must be a metadata key or a list of keys, got {group_by!r}")
    return keys


def value_of(record: CallRecord, key: str) -> str | None:
    """The record's value for ``key`` as text, ``None`` when it has none."""
    v = record.metadata.get(key) if isinstance(record.metadata, dict) else None
    if v is None and key in _FIELDS:
        v = getattr(record, key, None)
    if v is None or v == "":
        return None
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, sort_keys=True, default=str)
    return str(v)


def group_of(record: CallRecord, keys: tuple[str, ...]) -> tuple[tuple[str, ...], set[str]]:
    """The record's group and the keys it carries."""
    values, present = [], set()
    for k in keys:
        v = value_of(record, k)
        if v is not None:
            present.add(k)
        values.append(NONE if v is None else v)
    return tuple(values), present


def as_key(values: tuple[str, ...]) -> GroupKey:
    return values[0] if len(values) == 1 else values


def warn_unknown(keys: Iterable[str], seen: set[str]) -> None:
    """Warn once per process for each key no record carried."""
    for k in keys:
        if k in seen:
            continue
        with _warn_lock:
            if k in _warned:
                continue
            _warned.add(k)
        warnings.warn(
            f"no cost record has a metadata key {k!r}: every call groups as {NONE!r} "
            "(pass it in the run's metadata, e.g. config={'metadata': {" + repr(k) + ": ...}})",
            UserWarning,
            stacklevel=3,
        )


class GroupTotals:
    """Running totals per group of one key tuple, bounded to ``max_groups`` groups."""

    def __init__(self, keys: tuple[str, ...], max_groups: int = MAX_GROUPS) -> None:
        self.keys = keys
        self.max_groups = max_groups
        self.groups: dict[tuple[str, ...], Totals] = {}
        self.seen: set[str] = set()

    def add(self, record: CallRecord) -> None:
        values, present = group_of(record, self.keys)
        self.seen |= present
        t = self.groups.get(values)
        if t is None:
            if len(self.groups) >= self.max_groups:
                values = (OTHER,) * len(self.keys)
                t = self.groups.get(values)
            if t is None:
                t = self.groups[values] = Totals()
        t.add(record)


def summarize(records: Iterable[CallRecord], group_by: str | Sequence[str]) -> GroupTotals:
    """Group ``records`` in one pass (records are not kept); warns for keys none carried."""
    g = GroupTotals(normalize_keys(group_by))
    for r in records:
        g.add(r)
    warn_unknown(g.keys, g.seen)
    return g


def _reset_warnings() -> None:
    """For tests: warn again."""
    with _warn_lock:
        _warned.clear()
