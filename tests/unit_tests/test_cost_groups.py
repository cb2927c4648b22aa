"""Cost summaries grouped by any run-metadata key, or by several keys at once."""

from __future__ import annotations

import warnings
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from langchain_costrouter.costs import CallRecord, CostTrackingCallbackHandler
from langchain_costrouter.costs.groups import NONE, OTHER, GroupTotals, _reset_warnings, summarize
from langchain_costrouter.exceptions import ConfigError


def rec(cost: str | None = "0.001", **metadata: Any) -> CallRecord:
    return CallRecord(run_id=uuid4(), model="m", input_tokens=10, output_tokens=5,
                      cost=None if cost is None else Decimal(cost), latency_s=0.1,
                      metadata=metadata)


@pytest.fixture(autouse=True)
def fresh_warnings() -> None:
    _reset_warnings()


def test_group_by_one_metadata_key_sums_each_tenant() -> None:
    h = CostTrackingCallbackHandler()
    h.record(rec("0.003", user="alice"))
    h.record(rec("0.002", user="alice"))
    h.record(rec("0.010", user="bob"))
    h.record(rec("0.001"))  # no user
    s = h.summary(group_by="user")
    assert s.group_by == ("user",)
    assert set(s.by_group) == {"alice", "bob", NONE}
    assert s.by_group["alice"].total_cost == Decimal("0.005")
    assert s.by_group["alice"].requests == 2
    assert s.by_group["bob"].total_cost == Decimal("0.010")
    assert s.by_group[NONE].requests == 1
    assert sum((g.total_cost for g in s.by_group.values()), Decimal(0)) == s.total_cost
    assert s.as_dict()["by_group"]["alice"]["total_cost"] == "0.005"


def test_group_by_several_keys_keys_each_combination_by_a_tuple() -> None:
    h = CostTrackingCallbackHandler()
    h.record(rec("0.001", user="alice", team="eu"))
    h.record(rec("0.002", user="alice", team="us"))
    h.record(rec("0.004", user="alice", team="us"))
    h.record(rec("0.008", team="us"))
    s = h.summary(group_by=["user", "team"])
    assert s.by_group[("alice", "us")].total_cost == Decimal("0.006")
    assert s.by_group[("alice", "eu")].requests == 1
    assert s.by_group[(NONE, "us")].total_cost == Decimal("0.008")
    assert set(s.as_dict()["by_group"]) == {"alice/eu", "alice/us", f"{NONE}/us"}


def test_a_declared_grouping_covers_calls_that_left_the_record_buffer() -> None:
    h = CostTrackingCallbackHandler(max_records=2, group_by="user")
    for i in range(5):
        h.record(rec("0.001", user=f"u{i % 2}"))
    exact = h.summary()  # the declared grouping by default
    assert exact.groups_exact
    assert exact.by_group["u0"].requests == 3 and exact.by_group["u1"].requests == 2
    with pytest.warns(UserWarning, match="'team'"):
        recent = h.summary(group_by="team")  # not declared: from the 2 records left
    assert not recent.groups_exact
    assert sum(g.requests for g in recent.by_group.values()) == 2


def test_an_unknown_key_groups_as_none_and_warns_once() -> None:
    h = CostTrackingCallbackHandler()
    h.record(rec(user="alice"))
    with pytest.warns(UserWarning, match="'usr'"):
        s = h.summary(group_by="usr")
    assert list(s.by_group) == [NONE] and s.by_group[NONE].requests == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h.summary(group_by="usr")  # the second time: no warning
        h.summary(group_by="user")  # a key some records carry: no warning


def test_record_fields_group_too_and_unpriced_calls_stay_unpriced() -> None:
    g = summarize([rec(None, user="a"), rec("0.5", user="a")], ["user", "model"])
    t = g.groups[("a", "m")]
    assert t.requests == 2 and t.cost == Decimal("0.5") and t.unpriced == 1


def test_groups_are_bounded_in_memory() -> None:
    g = GroupTotals(("user",), max_groups=3)
    for i in range(10):
        g.add(rec(user=f"u{i}"))
    assert len(g.groups) == 4 and g.groups[(OTHER,)].requests == 7


def test_a_bad_group_by_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="group_by"):
        CostTrackingCallbackHandler(group_by=[])
    with pytest.raises(ConfigError, match="group_by"):
        CostTrackingCallbackHandler().summary(group_by=[1])  # type: ignore[list-item]
