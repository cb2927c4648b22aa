"""The router against a real local provider server that misbehaves (issue #3, small scale).

Every test starts its own :class:`LocalServer` on a free loopback port and routes through
``ChatOpenAI`` over real HTTP. Breakers use a clock the test moves by hand, so nothing waits for
a recovery timeout; the only real waits are the hanging model's 0.3 s client timeout.
The 10,000-call version with figures is ``benchmarks/faults.py``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.exceptions import StreamInterruptedError
from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.resilience import (
    BreakerConfig,
    Breakers,
    RetryPolicy,
    SQLiteBreakerStore,
)
from langchain_costrouter.testing import FaultPlan, LocalServer, ServerConfig

LEVELS = ("trivial", "standard", "complex", "expert")
HEALTHY = "healthy"
HANG_TIMEOUT_S = 0.3
CONFIG = BreakerConfig(failure_threshold=5, window_s=10, recovery_s=2)


class Clock:
    """A breaker clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def catalog(server: LocalServer, names: list[str]) -> Catalog:
    """``names`` in price order (first = cheapest), then ``healthy`` as the last fallback."""
    names = [*names, HEALTHY]
    models = [
        {
            "name": n,
            "provider": f"prov-{n}",
            "model": n,
            "base_url": server.base_url,
            "api_key_env": None,
            "prices": Prices(input=Decimal(i + 1), output=Decimal(i + 1)),
            "timeout_s": HANG_TIMEOUT_S if n.startswith("hang") else 10.0,
        }
        for i, n in enumerate(names)
    ]
    return Catalog.build({"models": models, "levels": {lv: names for lv in LEVELS}})


def router(server: LocalServer, names: list[str], breakers: Breakers) -> ChatCostRouter:
    return ChatCostRouter(catalog=catalog(server, names), breakers=breakers, max_tokens=40)


def serve(factory: Any, faults: dict[str, FaultPlan]) -> LocalServer:
    return factory(ServerConfig(latency_scale=0).with_faults(faults))


def tag(i: int) -> str:
    """Letters only: the server's reply repeats the prompt's last long words, not digits."""
    return "zq" + "".join("abcdefghijklmnopqrstuvwxyz"[(i // 26**k) % 26] for k in range(4))


def prompt(i: int) -> str:
    return f"Explain caching briefly for ticket {tag(i)}"


def attempts(msg: Any) -> list[dict[str, Any]]:
    return msg.response_metadata["costrouter"]["attempts"]


def steps(msg: Any) -> list[tuple[str, str]]:
    return [(a["tier"], a["status"]) for a in attempts(msg)]


def requests(server: LocalServer, model: str) -> int:
    return server.stats().get(model, {}).get("requests", 0)


async def fan_out(r: ChatCostRouter, ids: range, concurrency: int) -> list[Any]:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Any:
        async with sem:
            return await r.ainvoke(prompt(i))

    return await asyncio.gather(*(one(i) for i in ids))


async def drained(server: LocalServer, model: str, limit_s: float = 3.0) -> None:
    """Wait (bounded) until the server has finished every request of ``model``."""
    end = time.monotonic() + limit_s
    while server.stats().get(model, {}).get("in_flight", 0) and time.monotonic() < end:
        await asyncio.sleep(0.01)
    assert server.stats().get(model, {}).get("in_flight", 0) == 0


# -- every call answered, exactly once --------------------------------------------------------


async def test_every_call_answered_exactly_once_while_one_model_is_healthy(
    costrouter_server_factory: Any,
) -> None:
    faults = {
        "flaky": FaultPlan(error_500=0.3),
        "bursty": FaultPlan(burst_window=10, burst_every=3, retry_after_s=1.0),
        "dropper": FaultPlan(drop=0.3, malformed=0.2),
    }
    server = serve(costrouter_server_factory, faults)
    r = router(server, list(faults), Breakers(CONFIG))
    n = 300
    msgs = await fan_out(r, range(n), concurrency=30)

    assert len(msgs) == n
    for i, m in enumerate(msgs):  # each answer belongs to its own call
        assert tag(i) in m.content, (i, m.content[:80])
    stats = server.stats()
    every = [a for m in msgs for a in attempts(m)]
    answers = Counter(m.response_metadata["costrouter"]["tier"] for m in msgs)
    for model in [*faults, HEALTHY]:
        sent = sum(1 for a in every if a["tier"] == model and a["status"] in ("ok", "error"))
        assert stats.get(model, {}).get("requests", 0) == sent, model
        assert stats.get(model, {}).get("ok", 0) == answers[model], model
    assert sum(s["ok"] for s in stats.values()) == n  # nobody answered twice
    assert all(steps(m)[-1][1] == "ok" for m in msgs)
    assert answers[HEALTHY] > 0 and sum(a["status"] == "error" for a in every) > 0


# -- breakers ---------------------------------------------------------------------------------


async def test_breaker_opens_on_the_500_model_and_its_traffic_stops(
    costrouter_server_factory: Any,
) -> None:
    server = serve(costrouter_server_factory, {"flaky": FaultPlan(error_500=0.3)})
    clock = Clock()
    r = router(server, ["flaky"], Breakers(CONFIG, clock=clock))
    first = await fan_out(r, range(200), concurrency=20)

    assert r.health()["flaky"].state == "open"
    sent = requests(server, "flaky")
    assert sent == sum(a["status"] != "skipped" for m in first for a in attempts(m)
                       if a["tier"] == "flaky")
    assert sent < 200  # it stopped well before every call had gone there
    more = await fan_out(r, range(200, 300), concurrency=20)
    assert requests(server, "flaky") == sent  # open: not one more request
    assert all(steps(m) == [("flaky", "skipped"), (HEALTHY, "ok")] for m in more)


async def test_half_open_lets_exactly_one_probe_reach_the_model(
    costrouter_server_factory: Any,
) -> None:
    server = serve(costrouter_server_factory, {"hang": FaultPlan(hang=1.0, hang_s=30)})
    clock = Clock()
    r = router(server, ["hang"], Breakers(CONFIG, clock=clock))
    await fan_out(r, range(5), concurrency=5)  # 5 timeouts at once open it
    assert r.health()["hang"].state == "open"
    await drained(server, "hang")
    server.reset_stats()

    clock.now += CONFIG.recovery_s
    msgs = await fan_out(r, range(5, 35), concurrency=30)  # 30 callers race for the probe

    probes = [m for m in msgs if ("hang", "error") in steps(m)]
    assert len(probes) == 1
    assert "Timeout" in attempts(probes[0])[0]["error"]
    others = [m for m in msgs if m not in probes]
    assert all(steps(m) == [("hang", "skipped"), (HEALTHY, "ok")] for m in others)
    await drained(server, "hang")
    st = server.stats()["hang"]
    assert (st["requests"], st["max_in_flight"]) == (1, 1)
    assert r.health()["hang"].state == "open"  # the probe failed: open again


async def test_breaker_closes_again_after_the_provider_heals(
    costrouter_server_factory: Any,
) -> None:
    server = serve(costrouter_server_factory, {"flaky": FaultPlan(error_500=1.0)})
    clock = Clock()
    r = router(server, ["flaky"], Breakers(CONFIG, clock=clock))
    for i in range(CONFIG.failure_threshold or 0):
        await r.ainvoke(prompt(i))
    opened = r.health()["flaky"]
    assert opened.state == "open" and opened.opened_at == clock.now

    server.set_faults("flaky", None)  # healed, but the breaker does not know yet
    clock.now += CONFIG.recovery_s - 0.01
    assert steps(await r.ainvoke(prompt(10)))[0] == ("flaky", "skipped")
    clock.now += 0.01
    probe = await r.ainvoke(prompt(11))
    assert steps(probe) == [("flaky", "ok")]
    events = [(e["old_state"], e["new_state"])
              for e in probe.response_metadata["costrouter"]["breaker_events"]]
    assert events == [("open", "half_open"), ("half_open", "closed")]
    assert r.health()["flaky"].state == "closed"
    after = await fan_out(r, range(12, 32), concurrency=10)
    assert all(steps(m) == [("flaky", "ok")] for m in after)


async def test_a_cancelled_probe_frees_the_half_open_slot(costrouter_server_factory: Any) -> None:
    plan = FaultPlan(script=("error_500",) * 5, hang=1.0, hang_s=30)  # trip it, then hang
    server = serve(costrouter_server_factory, {"stuck": plan})
    clock = Clock()
    r = router(server, ["stuck"], Breakers(CONFIG, clock=clock))
    for i in range(5):
        await r.ainvoke(prompt(i))
    assert r.health()["stuck"].state == "open"

    clock.now += CONFIG.recovery_s
    probe = asyncio.create_task(r.ainvoke(prompt(5)))  # takes the probe, then hangs (10 s)
    end = time.monotonic() + 3
    while not server.stats()["stuck"]["in_flight"] and time.monotonic() < end:
        await asyncio.sleep(0.005)
    assert r.health()["stuck"].available is False  # the probe is out: nobody else may go
    probe.cancel()  # e.g. the caller's own asyncio.timeout
    with pytest.raises(asyncio.CancelledError):
        await probe
    health = r.health()["stuck"]
    assert (health.state, health.available, health.failures) == ("half_open", True, 0)

    server.set_faults("stuck", None)
    assert steps(await r.ainvoke(prompt(6))) == [("stuck", "ok")]  # the next caller probes
    assert r.health()["stuck"].state == "closed"


# -- 429 and Retry-After ------------------------------------------------------------------------


async def test_429_retry_after_is_honoured(costrouter_server_factory: Any) -> None:
    plan = FaultPlan(script=("rate_limit",), retry_after_s=30)
    server = serve(costrouter_server_factory, {"bursty": plan})
    clock = Clock()
    r = router(server, ["bursty"], Breakers(CONFIG, clock=clock))

    first = await r.ainvoke(prompt(0))
    assert steps(first) == [("bursty", "error"), (HEALTHY, "ok")]
    assert "429" in attempts(first)[0]["error"] and "cooldown" in attempts(first)[0]["error"]
    assert r.health()["bursty"].cooldown_until == pytest.approx(clock.now + 30)
    assert r.health()["bursty"].state == "closed"  # a 429 is not a breaker failure

    clock.now += 29.9
    during = await fan_out(r, range(1, 21), concurrency=10)
    assert all(steps(m) == [("bursty", "skipped"), (HEALTHY, "ok")] for m in during)
    assert requests(server, "bursty") == 1
    clock.now += 0.2
    assert steps(await r.ainvoke(prompt(21))) == [("bursty", "ok")]
    assert requests(server, "bursty") == 2


async def test_429_with_retries_on_falls_back_instead_of_waiting_out_retry_after(
    costrouter_server_factory: Any,
) -> None:
    plan = FaultPlan(script=("rate_limit",), retry_after_s=30)
    server = serve(costrouter_server_factory, {"bursty": plan})
    waits: list[float] = []

    async def asleep(seconds: float) -> None:  # records instead of sleeping
        waits.append(seconds)

    r = ChatCostRouter(
        catalog=catalog(server, ["bursty"]),
        breakers=Breakers(CONFIG, clock=Clock()),
        retry=RetryPolicy(max_attempts=2, asleep=asleep),
        max_tokens=40,
    )
    msg = await r.ainvoke(prompt(0))
    assert steps(msg) == [("bursty", "error"), (HEALTHY, "ok")]
    assert sum(waits) < 1.0, f"the call slept {sum(waits)} s before falling back"


# -- broken responses ------------------------------------------------------------------------


async def test_hang_times_out_and_falls_back(costrouter_server_factory: Any) -> None:
    server = serve(costrouter_server_factory, {"hang": FaultPlan(script=("hang",), hang_s=30)})
    r = router(server, ["hang"], Breakers(CONFIG, clock=Clock()))
    msg = await r.ainvoke(prompt(0))
    assert steps(msg) == [("hang", "error"), (HEALTHY, "ok")]
    hung = attempts(msg)[0]
    assert "Timeout" in hung["error"] and "trip" in hung["error"]
    assert HANG_TIMEOUT_S <= hung["duration_s"] < HANG_TIMEOUT_S + 2
    assert tag(0) in msg.content
    assert r.health()["hang"].failures == 1


async def _answer(r: ChatCostRouter, text: str, stream: bool) -> Any:
    if not stream:
        return await r.ainvoke(text)
    chunks = [c async for c in r.astream(text)]
    out = chunks[0]
    for c in chunks[1:]:
        out = out + c
    return out


@pytest.mark.parametrize(
    ("plan", "stream"),
    [
        (FaultPlan(script=("drop",)), False),
        (FaultPlan(script=("malformed",)), False),
        (FaultPlan(script=("drop",)), True),
        (FaultPlan(script=("malformed",)), True),
        (FaultPlan(script=("stream_cut",), cut_after_chunks=0), True),
    ],
    ids=["drop", "malformed-json", "drop-stream", "malformed-sse", "cut-before-first-chunk"],
)
async def test_broken_response_falls_back(
    costrouter_server_factory: Any, plan: FaultPlan, stream: bool
) -> None:
    server = serve(costrouter_server_factory, {"broken": plan})
    r = router(server, ["broken"], Breakers(CONFIG, clock=Clock()))
    msg = await _answer(r, prompt(7), stream)
    assert steps(msg) == [("broken", "error"), (HEALTHY, "ok")]
    assert "[trip]" in attempts(msg)[0]["error"]  # counted against the model
    assert r.health()["broken"].failures == 1
    assert tag(7) in msg.content
    assert requests(server, "broken") == 1 and requests(server, HEALTHY) == 1


async def test_stream_cut_after_first_chunk_raises_with_the_streamed_text(
    costrouter_server_factory: Any,
) -> None:
    plan = FaultPlan(script=("stream_cut",), cut_after_chunks=4)
    server = serve(costrouter_server_factory, {"cutter": plan})
    r = router(server, ["cutter"], Breakers(CONFIG, clock=Clock()))
    seen: list[str] = []
    with pytest.raises(StreamInterruptedError) as info:
        async for chunk in r.astream(prompt(3)):
            seen.append(str(chunk.content))
    err = info.value
    assert err.tier == "cutter"
    assert err.streamed == "".join(seen) and err.streamed
    assert requests(server, HEALTHY) == 0  # no fallback once text was shown
    assert r.health()["cutter"].failures == 1  # still counted against the model

    full = await _answer(r, prompt(3), stream=True)  # the script is spent: a whole reply
    assert steps(full) == [("cutter", "ok")]
    assert full.content.startswith(err.streamed) and len(full.content) > len(err.streamed)


# -- shared breaker state ----------------------------------------------------------------------


async def test_two_routers_sharing_a_sqlite_store_learn_together(
    costrouter_server_factory: Any, tmp_path: Path
) -> None:
    server = serve(costrouter_server_factory, {"flaky": FaultPlan(error_500=1.0)})
    clock = Clock()
    path = tmp_path / "breakers.db"
    a = router(server, ["flaky"], Breakers(CONFIG, store=SQLiteBreakerStore(path), clock=clock))
    b = router(server, ["flaky"], Breakers(CONFIG, store=SQLiteBreakerStore(path), clock=clock))

    assert steps(await b.ainvoke(prompt(0))) == [("flaky", "error"), (HEALTHY, "ok")]
    for i in range(1, 5):  # B's one failure + A's four reach the threshold of five
        await a.ainvoke(prompt(i))
    assert a.health()["flaky"].state == "open"
    sent = requests(server, "flaky")
    assert sent == 5
    assert steps(await b.ainvoke(prompt(9))) == [("flaky", "skipped"), (HEALTHY, "ok")]
    assert b.health()["flaky"].state == "open"
    assert requests(server, "flaky") == sent


_OTHER_PROCESS = textwrap.dedent(
    """
    import asyncio, json, sys
    from decimal import Decimal
    from langchain_costrouter import Catalog, ChatCostRouter
    from langchain_costrouter.pricing.prices import Prices
    from langchain_costrouter.resilience import BreakerConfig, Breakers, SQLiteBreakerStore

    base_url, path = sys.argv[1], sys.argv[2]
    names = ["flaky", "healthy"]
    models = [dict(name=n, provider=n, model=n, base_url=base_url, api_key_env=None,
                   prices=Prices(input=Decimal(i + 1), output=Decimal(i + 1)))
              for i, n in enumerate(names)]
    cat = Catalog.build({"models": models,
                         "levels": {lv: names for lv in ("trivial", "standard", "complex",
                                                         "expert")}})
    cfg = BreakerConfig(failure_threshold=5, window_s=60, recovery_s=300)
    r = ChatCostRouter(catalog=cat, breakers=Breakers(cfg, store=SQLiteBreakerStore(path)),
                       max_tokens=20)

    async def main():
        for i in range(5):
            await r.ainvoke(f"Explain caching for ticket zqpr{'abcde'[i]}")
        print(json.dumps({"state": r.health()["flaky"].state}))

    asyncio.run(main())
    """
)


async def test_a_breaker_opened_in_another_process_skips_the_model_here(
    costrouter_server_factory: Any, tmp_path: Path
) -> None:
    server = serve(costrouter_server_factory, {"flaky": FaultPlan(error_500=1.0)})
    path = tmp_path / "breakers.db"
    repo = Path(__file__).resolve().parents[2]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _OTHER_PROCESS, server.base_url, str(path),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=repo,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert json.loads(out.decode().strip().splitlines()[-1]) == {"state": "open"}
    assert requests(server, "flaky") == 5

    cfg = BreakerConfig(failure_threshold=5, window_s=60, recovery_s=300)
    here = router(server, ["flaky"], Breakers(cfg, store=SQLiteBreakerStore(path)))
    assert steps(await here.ainvoke(prompt(0))) == [("flaky", "skipped"), (HEALTHY, "ok")]
    assert requests(server, "flaky") == 5


# -- a request the client abandoned ------------------------------------------------------------


async def test_server_does_not_count_a_request_the_client_abandoned_as_ok(
    costrouter_server_factory: Any,
) -> None:
    server = serve(costrouter_server_factory, {"hang": FaultPlan(script=("hang",), hang_s=30)})
    r = router(server, ["hang"], Breakers(CONFIG, clock=Clock()))
    await r.ainvoke(prompt(0))
    await drained(server, "hang")
    assert server.stats()["hang"]["ok"] == 0
