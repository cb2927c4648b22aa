"""Fault injection: 10,000 routed calls against three faulty models and one healthy one.

Run: ``.venv/bin/python -m benchmarks.faults [--calls 10000 --concurrency 100 --json out.json]``

The local provider server runs in a subprocess (zero latency) and serves four models, tried
cheapest first by every level:

* ``flaky-500``: 30% HTTP 500; healed through ``POST /admin/faults`` half-way through the run;
* ``bursty-429``: every 5th window of 40 requests is all 429 with ``Retry-After: 1``;
* ``hanging``: every request hangs; its catalog ``timeout_s`` is 0.5 s;
* ``healthy``: no faults (the most expensive, so the last fallback).

``ChatCostRouter.ainvoke`` runs on one event loop with ``max_retries=0`` (fall back at once) and
``BreakerConfig(failure_threshold=5, window_s=10, recovery_s=2, max_recovery_s=8)``. The breakers
log every grant, deny, report and transition (``faults_lib.RecordingBreakers``); the checks
replay that log and reconcile it with the server's request counters and with the attempts in
each answer's ``response_metadata["costrouter"]``. A second phase times the same healthy
workload with breakers on and off, interleaved, in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from typing import Any

import httpx

from benchmarks.common import pct, server_process
from benchmarks.faults_lib import (
    BURSTY,
    FLAKY,
    HANGING,
    HEALTHY,
    MODELS,
    RecordingBreakers,
    audit,
    fault_catalog,
    network_attempts,
    per_model_attempts,
    prompt,
    tag,
)
from langchain_costrouter import ChatCostRouter
from langchain_costrouter.exceptions import AllModelsFailedError
from langchain_costrouter.resilience import BreakerConfig, Breakers

BREAKER = BreakerConfig(failure_threshold=5, window_s=10, recovery_s=2, max_recovery_s=8)
FAULTS: dict[str, dict[str, Any]] = {
    FLAKY: {"error_500": 0.3},
    BURSTY: {"burst_window": 40, "burst_every": 5, "retry_after_s": 1.0},
    HANGING: {"hang": 1.0, "hang_s": 30.0},
}
MAX_TOKENS = 48


async def set_faults(client: httpx.AsyncClient, model: str, faults: dict[str, Any] | None) -> None:
    r = await client.post("/admin/faults", json={"model": model, "faults": faults})
    r.raise_for_status()


async def fault_run(base_url: str, calls: int, concurrency: int, heal_at: float) -> dict[str, Any]:
    admin = httpx.AsyncClient(base_url=base_url.removesuffix("/v1"), timeout=30)
    for model, plan in FAULTS.items():
        await set_faults(admin, model, plan)
    breakers = RecordingBreakers(BREAKER)
    router = ChatCostRouter(catalog=fault_catalog(base_url), breakers=breakers,
                            max_tokens=MAX_TOKENS)
    await router.ainvoke(prompt(calls), model=HEALTHY)  # warm up: tokenizer, HTTP client
    breakers.log.clear()
    before = (await admin.get("/admin/stats")).json()
    records: list[dict[str, Any]] = [{} for _ in range(calls)]
    done = 0
    heal_task: asyncio.Task[None] | None = None
    heal: dict[str, float] = {}
    queue = iter(range(calls))

    async def do_heal() -> None:
        heal["sent"] = time.monotonic()
        await set_faults(admin, FLAKY, None)
        heal["at"] = time.monotonic()

    async def worker() -> None:
        nonlocal done, heal_task
        for i in queue:
            start = time.monotonic()
            rec: dict[str, Any] = {"start": start}
            try:
                msg = await router.ainvoke(prompt(i))
                meta = msg.response_metadata["costrouter"]
                rec.update(attempts=meta["attempts"], tier=meta["tier"],
                           tagged=tag(i) in str(msg.content))
            except AllModelsFailedError as exc:
                rec.update(attempts=[a.as_dict() for a in exc.attempts], tier=None,
                           error=repr(exc))
            except Exception as exc:  # anything else is a lost call too
                rec.update(attempts=[], tier=None, error=repr(exc))
            rec["latency_s"] = time.monotonic() - start
            records[i] = rec
            done += 1
            if heal_task is None and done >= heal_at * calls:
                heal_task = asyncio.create_task(do_heal())

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - t0
    if heal_task is not None:
        await heal_task
    after = (await admin.get("/admin/stats")).json()
    await admin.aclose()
    return analyse(records, breakers, before, after, t0, elapsed, heal)


def _server_delta(before: dict[str, Any], after: dict[str, Any], model: str) -> dict[str, int]:
    """Server counters of ``model`` during the run.

    ``ok`` less ``hang``: the server counts a hung request as ok when it writes the reply after
    the client has timed out and gone (testing/app.py ``_hang`` returns on disconnect and the
    handler carries on), so a hung request that nobody received is taken off here.
    """
    b, a = before.get(model, {}), after.get(model, {})
    hung = a.get("faults", {}).get("hang", 0) - b.get("faults", {}).get("hang", 0)
    return {k: a.get(k, 0) - b.get(k, 0) for k in ("requests", "ok")} | {
        "hung": hung, "in_flight": a.get("in_flight", 0)}


def analyse(records: list[dict[str, Any]], breakers: RecordingBreakers, before: dict[str, Any],
            after: dict[str, Any], t0: float, elapsed: float,
            heal: dict[str, float]) -> dict[str, Any]:
    n = len(records)
    answered = [r for r in records if r.get("tier")]
    lost = n - len(answered)
    untagged = sum(1 for r in answered if not r["tagged"])
    net = [len(network_attempts(r["attempts"])) for r in records]
    every = [len(r["attempts"]) for r in records]
    extra = [x - 1 for x in net]
    lat = [r["latency_s"] * 1000 for r in records]
    by_model = per_model_attempts(r["attempts"] for r in records)
    answers = Counter(r["tier"] for r in answered)
    log = breakers.log
    aud = audit(log)

    # Reconcile: server requests == permits granted == network attempts; server ok == answers.
    reconcile: dict[str, Any] = {}
    for m in MODELS:
        srv = _server_delta(before, after, m)
        c = by_model.get(m, Counter())
        reconcile[m] = {
            "server_requests": srv["requests"],
            "permits_granted": aud[m].grants if m in aud else 0,
            "network_attempts": c["ok"] + c["error"],
            "skipped": c["skipped"],
            "server_ok": srv["ok"] - srv["hung"],
            "server_ok_raw": srv["ok"],
            "answers": answers.get(m, 0),
            "server_in_flight_at_end": srv["in_flight"],
        }
    reconciled = all(
        r["server_requests"] == r["permits_granted"] == r["network_attempts"]
        and r["server_ok"] == r["answers"] for r in reconcile.values())

    # When was each faulty model first demoted (breaker open / 429 cooldown)?
    first_demoted: dict[str, float] = {}
    for e in log:
        if e.model in first_demoted:
            continue
        if (e.kind == "transition" and e.outcome.endswith("->open")) or (
            e.kind == "report" and e.cooldown_until > 0
        ):
            first_demoted[e.model] = e.at
    steady_from = max(first_demoted.get(m, float("inf")) for m in (FLAKY, BURSTY, HANGING))
    steady = [x for r, x in zip(records, extra, strict=True) if r["start"] >= steady_from]
    many = Counter(
        tuple(a["tier"] for a in r["attempts"] if a["status"] == "error")
        for r, x in zip(records, extra, strict=True) if r["start"] >= steady_from and x > 1)

    def breaker_story(model: str) -> dict[str, Any]:
        a = aud.get(model)
        trans = [(round(t - t0, 3), s) for t, s in (a.transitions if a else [])]
        opens = [t for t, s in trans if s.endswith("->open")]
        out: dict[str, Any] = {
            "time_to_open_s": opens[0] if opens else None,
            "trips": len(opens),
            "transitions": len(trans),
        }
        if model == FLAKY and "at" in heal:
            # The heal is certain once the admin call has returned (heal["at"]); replies served
            # before it may still be in flight, so the story after the heal starts there.
            h = heal["at"] - t0
            out["heal_sent_s"] = round(heal["sent"] - t0, 3)
            out["healed_at_s"] = round(h, 3)
            later = [(t, s) for t, s in trans if t >= h]
            earlier = [(t, s) for t, s in trans if t < h]
            out["state_at_heal"] = earlier[-1][1].split("->")[1] if earlier else "closed"
            out["trips_before_heal"] = sum(1 for _, s in earlier if s.endswith("->open"))
            out["after_heal"] = later
            closes = [t for t, s in later if s.endswith("->closed")]
            out["time_to_recover_s"] = (round(closes[0] - h, 3) if closes
                                        else 0.0 if out["state_at_heal"] == "closed" else None)
            out["opens_after_heal"] = sum(1 for _, s in later if s.endswith("->open"))
            out["final_state"] = trans[-1][1].split("->")[1] if trans else "closed"
        return out

    audits = {m: {k: v for k, v in vars(a).items() if k != "transitions"}
              for m, a in aud.items()}
    return {
        "calls": n,
        "elapsed_s": round(elapsed, 2),
        "throughput_per_s": round(n / elapsed, 1),
        "answered": len(answered),
        "success_rate": len(answered) / n,
        "lost": lost,
        "errors": [r["error"] for r in records if "error" in r][:5],
        "replies_without_own_tag": untagged,
        "answers_by_model": dict(answers),
        "attempts_per_call": {"mean": statistics.fmean(every), "max": max(every)},
        "network_attempts_per_call": {"mean": statistics.fmean(net), "max": max(net)},
        "extra_network_attempts": dict(sorted(Counter(extra).items())),
        "steady_state": {
            "from_s": round(steady_from - t0, 3) if steady_from != float("inf") else None,
            "calls": len(steady),
            "extra_attempts": dict(sorted(Counter(steady).items())),
            "max_extra": max(steady) if steady else None,
            "share_at_most_1_extra": (sum(1 for x in steady if x <= 1) / len(steady)
                                      if steady else None),
            "causes_of_more": {"+".join(k): v for k, v in many.most_common(5)},
        },
        "latency_ms": {"p50": pct(lat, 50), "p95": pct(lat, 95), "p99": pct(lat, 99),
                       "max": max(lat)},
        "reconcile": reconcile,
        "reconciled": reconciled,
        "breaker_audit": audits,
        "breakers": {m: breaker_story(m) for m in (FLAKY, HANGING)},
    }


# -- breaker path overhead -------------------------------------------------------------------


async def timed_batch(router: ChatCostRouter, calls: int, concurrency: int,
                      offset: int) -> tuple[list[float], float]:
    lat: list[float] = []
    queue = iter(range(offset, offset + calls))

    async def worker() -> None:
        for i in queue:
            s = time.perf_counter()
            await router.ainvoke(prompt(i))
            lat.append(time.perf_counter() - s)

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return lat, time.perf_counter() - t


class TimedBreakers(Breakers):
    """``Breakers`` that sums the time spent in its own methods (the breaker path's cost)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ns = 0

    def allow(self, model: str) -> Any:
        t = time.perf_counter_ns()
        try:
            return super().allow(model)
        finally:
            self.ns += time.perf_counter_ns() - t

    def success(self, permit: Any) -> None:
        t = time.perf_counter_ns()
        try:
            super().success(permit)
        finally:
            self.ns += time.perf_counter_ns() - t


async def overhead_run(base_url: str, calls: int, concurrency: int, rounds: int,
                       sequential: int) -> dict[str, Any]:
    """The healthy model alone, breakers on vs off. Sequential calls alternate call by call;
    concurrent batches alternate batch by batch (order flipped each round)."""
    cat = fault_catalog(base_url, names=[HEALTHY])
    timed = TimedBreakers(BREAKER)
    routers = {
        "breakers": ChatCostRouter(catalog=cat, breakers=timed, max_tokens=MAX_TOKENS),
        "plain": ChatCostRouter(catalog=cat, breakers=False, max_tokens=MAX_TOKENS),
    }
    for r in routers.values():  # warm up pools and caches
        await timed_batch(r, 50, 10, 0)
    seq: dict[str, list[float]] = {k: [] for k in routers}
    for i in range(sequential):
        for name in (("breakers", "plain") if i % 2 else ("plain", "breakers")):
            s = time.perf_counter()
            await routers[name].ainvoke(prompt(1000 + i))
            seq[name].append(time.perf_counter() - s)
    conc: dict[str, list[float]] = {k: [] for k in routers}
    tput: dict[str, list[float]] = {k: [] for k in routers}
    offset = 1000 + sequential
    timed.ns = 0
    for rnd in range(rounds):
        for name in (list(routers) if rnd % 2 == 0 else list(reversed(routers))):
            lat, el = await timed_batch(routers[name], calls, concurrency, offset)
            conc[name] += lat
            tput[name].append(calls / el)
            offset += calls
    breaker_us = timed.ns / 1000 / (calls * rounds)

    def summary(name: str) -> dict[str, float]:
        return {
            "median_ms_sequential": statistics.median(seq[name]) * 1000,
            "median_ms_at_concurrency": statistics.median(conc[name]) * 1000,
            "throughput_per_s": statistics.median(tput[name]),
        }

    b, p = summary("breakers"), summary("plain")
    return {
        "calls_per_batch": calls, "rounds": rounds, "concurrency": concurrency,
        "sequential_calls_each": sequential, "breakers": b, "plain": p,
        "breaker_methods_us_per_call": breaker_us,
        "ratio_median_sequential": b["median_ms_sequential"] / p["median_ms_sequential"],
        "ratio_median_at_concurrency": (b["median_ms_at_concurrency"]
                                        / p["median_ms_at_concurrency"]),
        "ratio_throughput": b["throughput_per_s"] / p["throughput_per_s"],
    }


# -- report ------------------------------------------------------------------------------------


def report(res: dict[str, Any], over: dict[str, Any] | None, args: argparse.Namespace) -> str:
    f, ss = res, res["steady_state"]
    flaky, hang = res["breakers"][FLAKY], res["breakers"][HANGING]
    aud = res["breaker_audit"]
    rows = [
        ("calls / concurrency", f"{f['calls']:,} / {args.concurrency}"),
        ("wall time, throughput", f"{f['elapsed_s']} s, {f['throughput_per_s']} calls/s"),
        ("answered (success rate)", f"{f['answered']:,} ({f['success_rate']:.2%}); "
                                    f"lost {f['lost']}"),
        ("replies carrying their own call's tag",
         f"{f['answered'] - f['replies_without_own_tag']:,} of {f['answered']:,}"),
        ("answers by model", ", ".join(f"{k} {v:,}" for k, v in f["answers_by_model"].items())),
        ("attempts per call incl. skipped (mean / max)",
         f"{f['attempts_per_call']['mean']:.2f} / {f['attempts_per_call']['max']}"),
        ("network attempts per call (mean / max)",
         f"{f['network_attempts_per_call']['mean']:.3f} / "
         f"{f['network_attempts_per_call']['max']}"),
        ("extra network attempts per call: calls", ", ".join(
            f"{k}: {v:,}" for k, v in f["extra_network_attempts"].items())),
        (f"steady state (from {ss['from_s']} s): calls with <= 1 extra",
         f"{ss['share_at_most_1_extra']:.2%} of {ss['calls']:,} (max {ss['max_extra']}"
         + (f"; >1: {ss['causes_of_more']}" if ss["causes_of_more"] else "") + ")"),
        ("server requests = permits = network attempts; server ok = answers",
         "yes" if f["reconciled"] else "NO"),
        ("requests while open (normal grants, all models)",
         str(sum(a["grants_while_open"] for a in aud.values()))),
        ("grants inside a Retry-After cooldown (bursty-429)",
         f"{aud.get(BURSTY, {}).get('grants_in_cooldown', 'n/a')} "
         f"({aud.get(BURSTY, {}).get('cooldowns', 0)} cooldowns, "
         f"{aud.get(BURSTY, {}).get('denies', 0):,} calls skipped)"),
        ("half-open probes: flaky-500 / hanging",
         f"{aud.get(FLAKY, {}).get('probes', 0)} / {aud.get(HANGING, {}).get('probes', 0)}; "
         f"max in flight {aud.get(FLAKY, {}).get('max_probes_in_flight', 0)} / "
         f"{aud.get(HANGING, {}).get('max_probes_in_flight', 0)}; other grants during a probe "
         f"{sum(a['overlapping_probes'] for a in aud.values())}"),
        ("flaky-500: time to open (from run start), trips before heal",
         f"{flaky['time_to_open_s']} s, {flaky.get('trips_before_heal')}"),
        ("flaky-500: healed at (admin call sent / returned); state then",
         f"{flaky.get('heal_sent_s')} / {flaky.get('healed_at_s')} s; "
         f"{flaky.get('state_at_heal')}"),
        ("flaky-500: transitions after heal",
         " ".join(f"{t:.2f}s {s}" for t, s in flaky.get("after_heal", [])) or "none"),
        ("flaky-500: time to recover after heal; opens after heal; final state",
         f"{flaky.get('time_to_recover_s')} s; {flaky.get('opens_after_heal')}; "
         f"{flaky.get('final_state')}"),
        ("hanging: time to open, trips", f"{hang['time_to_open_s']} s, {hang['trips']}"),
        ("latency p50 / p95 / p99 / max",
         " / ".join(f"{f['latency_ms'][k]:.1f}" for k in ("p50", "p95", "p99", "max")) + " ms"),
    ]
    if over is not None:
        b, p = over["breakers"], over["plain"]
        rows += [
            ("overhead: median per call, sequential (breakers / off)",
             f"{b['median_ms_sequential']:.2f} / {p['median_ms_sequential']:.2f} ms = "
             f"{over['ratio_median_sequential']:.3f}x"),
            (f"overhead: median per call at c={over['concurrency']}",
             f"{b['median_ms_at_concurrency']:.1f} / {p['median_ms_at_concurrency']:.1f} ms = "
             f"{over['ratio_median_at_concurrency']:.3f}x"),
            (f"overhead: throughput at c={over['concurrency']}",
             f"{b['throughput_per_s']:.0f} / {p['throughput_per_s']:.0f} calls/s = "
             f"{over['ratio_throughput']:.3f}x"),
            ("overhead: time inside Breakers.allow + success per call",
             f"{over['breaker_methods_us_per_call']:.1f} us"),
        ]
    lines = ["| measure | result |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    rec = ["", "| model | server requests | permits | network attempts | skipped | server ok "
           "| answers |", "|---|---|---|---|---|---|---|"]
    for m, r in res["reconcile"].items():
        rec.append(f"| {m} | {r['server_requests']:,} | {r['permits_granted']:,} | "
                   f"{r['network_attempts']:,} | {r['skipped']:,} | {r['server_ok']:,} | "
                   f"{r['answers']:,} |")
    return "\n".join(lines + rec)


async def both(
    base_url: str, args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Both phases on one event loop (langchain-openai caches its HTTP clients per process)."""
    res = await fault_run(base_url, args.calls, args.concurrency, args.heal_at)
    over = None
    if args.overhead_calls > 0:
        over = await overhead_run(base_url, args.overhead_calls, args.concurrency,
                                  args.overhead_rounds, args.overhead_sequential)
    return res, over


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.faults", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--heal-at", type=float, default=0.5,
                   help="heal flaky-500 when this share of calls has finished")
    p.add_argument("--overhead-calls", type=int, default=1000,
                   help="calls per batch in the overhead phase (0: skip the phase)")
    p.add_argument("--overhead-rounds", type=int, default=6,
                   help="batches per mode (breakers on/off alternate batch by batch)")
    p.add_argument("--overhead-sequential", type=int, default=500,
                   help="sequential calls per mode, alternating call by call")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    with server_process(latency_scale=0.0) as base_url:
        res, over = asyncio.run(both(base_url, args))
    cmd = "python -m benchmarks.faults " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"`{cmd.strip()}`\n")
    print(report(res, over, args))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"faults": res, "overhead": over, "breaker_config": vars(BREAKER),
                       "server_faults": FAULTS, "args": vars(args)}, fh, indent=2, default=str)
    aud = res["breaker_audit"].values()
    ok = (res["success_rate"] == 1.0 and res["reconciled"] and res["lost"] == 0
          and res["replies_without_own_tag"] == 0
          and not any(a["grants_while_open"] or a["grants_in_cooldown"]
                      or a["overlapping_probes"] for a in aud))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
