"""Plant a recognisable key in every channel a key can come in by, then grep every output.

Channels: an environment variable named by ``api_key_env``, a ``SecretStr`` given to the
router, credentials in a base URL, a provider whose error text echoes the key it was sent (the
local server's ``echo_key`` fault, over real HTTP), and a key pasted where ``api_key_env``
wants a variable name. The keys have no known shape (no ``sk-`` prefix), so only the scrubber's
registry of configured keys can catch them.

Outputs: reprs, identifying params, exceptions (str, repr, attempts, traceback), response
metadata, every log record at DEBUG (httpx and openai included), cost-handler exports, SQLite
ledger and breaker files (rows and raw bytes), every Redis value, CLI output, the event stream
(custom events included) and warnings.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import subprocess
import sys
import traceback
import uuid
import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from pydantic import SecretStr

from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.budget import Budget, SQLiteLedger
from langchain_costrouter.budget.redis import RedisLedger
from langchain_costrouter.costs import CostTrackingCallbackHandler, to_csv, to_json
from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.resilience import Breakers, SQLiteBreakerStore
from langchain_costrouter.resilience.redis_store import RedisBreakerStore
from langchain_costrouter.testing import FaultPlan, LocalServer, ModelBehaviour, ServerConfig

pytestmark = pytest.mark.enable_socket

ROOT = Path(__file__).resolve().parents[2]
LEVELS = ("trivial", "standard", "complex", "expert")
ENV_VAR = "COSTROUTER_SWEEP_KEY"
TAG = uuid.uuid4().hex[:10].upper()
KEYS = {
    "env": f"PLANTEDENV{TAG}q7",
    "secretstr": f"PLANTEDSECRET{TAG}q7",
    "url": f"PLANTEDURL{TAG}q7",
    "pasted": f"PLANTED-PASTED-{TAG}.q7",
}


class Collect(logging.Handler):
    """Every record of every logger, formatted (tracebacks included), like caplog."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def catalog(base_url: str, names: list[str], api_key_env: str | None) -> Catalog:
    models = [{"name": n, "provider": f"prov-{n}", "model": n, "base_url": base_url,
               "api_key_env": api_key_env, "context_window": 128_000,
               "prices": Prices(input=Decimal(i + 1), output=Decimal(i + 1))}
              for i, n in enumerate(names)]
    return Catalog.build({"models": models, "levels": {lv: names for lv in LEVELS}})


def dump_sqlite(path: Path) -> str:
    out = []
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            out += [repr(row) for row in db.execute(f"SELECT * FROM {t}")]
    for f in path.parent.glob(path.name + "*"):  # the file, its WAL and shm
        out.append(f.read_bytes().decode("latin-1"))
    return "\n".join(out)


def dump_redis(url: str) -> str:
    r = redis.Redis.from_url(url)
    out = []
    for key in r.scan_iter(count=1000):
        kind = r.type(key).decode()
        value: Any = {"string": r.get, "hash": r.hgetall, "list": lambda k: r.lrange(k, 0, -1),
                      "set": r.smembers, "zset": lambda k: r.zrange(k, 0, -1, withscores=True),
                      "stream": lambda k: r.xrange(k)}.get(kind, lambda k: b"")(key)
        out.append(f"{key!r} {kind} {value!r}")
    r.close()
    assert out, "nothing was written to Redis"
    return "\n".join(out)


def run_cli(*args: str, env: dict[str, str]) -> str:
    p = subprocess.run([sys.executable, "-m", "langchain_costrouter.cli.main", *args],
                       env={**os.environ, "PYTHONPATH": str(ROOT), **env}, cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    return p.stdout + p.stderr


def _error_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    texts += [json.dumps(a.as_dict()) for a in getattr(exc, "attempts", [])]
    return texts


@pytest.fixture(scope="module")
def sweep(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("sweep")
    out: dict[str, list[str]] = {k: [] for k in (
        "reprs", "router_reprs", "catalog_reprs", "identifying_params", "exceptions",
        "response_metadata", "logs", "cost_exports", "sqlite_ledger", "sqlite_breakers",
        "redis", "events", "warnings", "cli_env_catalog", "cli_base_url")}
    echo = ModelBehaviour(faults=FaultPlan(echo_key=1.0, echo_status=500))
    server = LocalServer(ServerConfig(latency_scale=0, models={
        "echo": echo, "echo2": echo, "good": ModelBehaviour()})).start()
    old_env = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = KEYS["env"]
    collect = Collect()
    root = logging.getLogger()
    old_levels = {n: logging.getLogger(n).level
                  for n in ("", "httpx", "httpcore", "httpx2", "httpcore2", "openai")}
    root.addHandler(collect)
    for n in old_levels:
        logging.getLogger(n).setLevel(logging.DEBUG)
    handler = CostTrackingCallbackHandler()
    cfg = {"callbacks": [handler], "metadata": {"user": "ann"}}
    prefix = f"sweep:{uuid.uuid4().hex}:"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            url = server.base_url
            # env key; falls back from the echoing model; breakers in SQLite; SQLite ledger
            env_router = ChatCostRouter(
                catalog=catalog(url, ["echo", "good"], ENV_VAR),
                breakers=Breakers(store=SQLiteBreakerStore(tmp / "breakers.sqlite3")))
            env_guard = env_router.with_budget(
                [Budget.usd("5")], ledger=SQLiteLedger(tmp / "ledger.sqlite3"))
            # SecretStr key; breakers and ledger in Redis
            str_router = ChatCostRouter(
                catalog=catalog(url, ["echo", "good"], None), api_key=SecretStr(KEYS["secretstr"]),
                breakers=Breakers(store=RedisBreakerStore(redis_url, prefix=prefix + "b:")))
            str_guard = str_router.with_budget(
                [Budget.tokens(1_000_000)], ledger=RedisLedger(redis_url, prefix=prefix + "l:"))
            # every model echoes: AllModelsFailedError
            all_fail = ChatCostRouter(catalog=catalog(url, ["echo", "echo2"], ENV_VAR))
            # credentials in the base URL; a key pasted as the variable's name
            creds_url = url.replace("http://", f"http://user:{KEYS['url']}@")
            # its key variable is unset: a MissingKeyWarning (and a MissingAPIKeyError)
            unkeyed = ChatCostRouter(catalog=catalog(url, [f"unkeyed{TAG}"], "SWEEP_UNSET_KEY"))
            routers = [env_router, str_router, all_fail, unkeyed]
            for make in (lambda: catalog(creds_url, ["good"], None),
                         lambda: catalog(url, ["good"], KEYS["pasted"])):
                try:
                    cat = make()
                    out["catalog_reprs"] += [repr(cat), str(cat)]
                    routers.append(ChatCostRouter(catalog=cat))
                except Exception as e:  # refused at construction: its text is an output too
                    out["exceptions"] += _error_texts(e)

            messages = [env_guard.invoke("hello there", config=cfg),
                        str_guard.invoke("hello there", config=cfg)]
            for r in (env_router, str_router):
                chunks = list(r.stream("tell me about tea", config=cfg))
                out["response_metadata"] += [json.dumps(c.response_metadata, default=repr)
                                             for c in chunks]

            async def events() -> list[Any]:
                return [e async for e in env_router.astream_events(
                    "hello again", version="v2", config=cfg)]

            out["events"] = [json.dumps(e, default=repr) for e in asyncio.run(events())]
            for r in routers[2:]:
                try:
                    messages.append(r.invoke("hello there", config=cfg))
                except Exception as e:
                    out["exceptions"] += _error_texts(e)
            out["response_metadata"] += [json.dumps(m.response_metadata, default=repr)
                                         for m in messages]
            for r in routers:
                out["router_reprs"] += [repr(r), str(r)]
                out["catalog_reprs"] += [repr(r._catalog), str(r._catalog)]
                out["reprs"] += [repr(r.health()), repr(r._pool)]
                out["identifying_params"] += [json.dumps(r._identifying_params, default=repr),
                                              json.dumps(r._get_ls_params(), default=repr)]
            out["reprs"] += [repr(env_guard), repr(str_guard), repr(handler)]
            out["cost_exports"] += [to_json(handler), to_csv(handler), repr(handler.records)]
        out["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
        out["logs"] = list(collect.lines)
        out["sqlite_ledger"] = [dump_sqlite(tmp / "ledger.sqlite3")]
        out["sqlite_breakers"] = [dump_sqlite(tmp / "breakers.sqlite3")]
        out["redis"] = [dump_redis(redis_url)]
        names = list(Catalog.default().models)
        cli_catalog = tmp / "catalog.json"
        cli_catalog.write_text(json.dumps({"models": {
            n: {"base_url": url, "model": "echo", "api_key_env": ENV_VAR}
            for n in names}}))
        env = {ENV_VAR: KEYS["env"]}
        out["cli_env_catalog"] = [run_cli("demo", "--catalog", str(cli_catalog), "--calls", "2",
                                          env=env)]
        out["cli_base_url"] = [run_cli("demo", "--base-url", creds_url, "--calls", "2", env=env)]
        yield {k: "\n".join(v) for k, v in out.items()}
    finally:
        root.removeHandler(collect)
        for n, level in old_levels.items():
            logging.getLogger(n).setLevel(level)
        if old_env is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = old_env
        server.stop()


def test_the_channels_are_live() -> None:
    """The echoing model really sends the key back, so a clean output means scrubbing."""
    echo = ModelBehaviour(faults=FaultPlan(echo_key=1.0))
    with LocalServer(ServerConfig(latency_scale=0, models={"echo": echo})) as server:
        r = httpx.post(server.base_url + "/chat/completions", timeout=10,
                       headers={"Authorization": f"Bearer {KEYS['env']}"},
                       json={"model": "echo", "messages": [{"role": "user", "content": "hi"}]})
    assert KEYS["env"] in r.json()["error"]["message"]


@pytest.mark.parametrize("channel", [
    "reprs",
    "router_reprs",
    "catalog_reprs",
    "identifying_params",
    "exceptions",
    "response_metadata",
    "logs",
    "cost_exports",
    "sqlite_ledger",
    "sqlite_breakers",
    "redis",
    "events",
    "warnings",
    "cli_env_catalog",
    "cli_base_url",
])
def test_no_planted_key_in(sweep: dict[str, str], channel: str) -> None:
    text = sweep[channel]
    assert text.strip(), f"{channel}: nothing was produced, the sweep proves nothing"
    leaked = [name for name, key in KEYS.items() if key in text]
    assert not leaked, f"{channel} shows the {leaked} key(s)"
