"""``router.batch(inputs, config={"configurable": {"costrouter_lane": "batch"}})`` semantics,
as functions the router delegates to (see the hooks in the README's lanes section).

Configurable keys: ``costrouter_lane`` (``batch`` or ``flex``; anything else: not ours),
``costrouter_batch_store`` (SQLite path), ``costrouter_batch_poll_s`` (first poll interval).
Callbacks with a ``record`` method (the cost handler) get one record per item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_costrouter.batch.job import BatchJob, asubmit_batch, submit_batch

LANE_KEY = "costrouter_lane"
STORE_KEY = "costrouter_batch_store"
POLL_KEY = "costrouter_batch_poll_s"


def _one(config: Any) -> dict[str, Any]:
    if isinstance(config, list):
        config = config[0] if config else None
    return dict(config or {})


def lane_of(config: Any, kwargs: dict[str, Any]) -> str | None:
    """The lane a ``batch()`` call asks for (``lane=`` kwarg or the configurable key)."""
    lane = kwargs.get("lane") or (_one(config).get("configurable") or {}).get(LANE_KEY)
    return str(lane) if lane in ("batch", "flex") else None


def _options(config: Any, kwargs: dict[str, Any]) -> tuple[dict[str, Any], float]:
    cfg = _one(config)
    conf = cfg.get("configurable") or {}
    callbacks = cfg.get("callbacks") or []
    handlers = getattr(callbacks, "handlers", callbacks)
    sinks = [*kwargs.pop("sinks", ()), *(h for h in handlers if hasattr(h, "record"))]
    opts = {"lane": kwargs.pop("lane", None) or conf.get(LANE_KEY),
            "store": kwargs.pop("store", None) or conf.get(STORE_KEY, "costrouter-batches.db"),
            "sinks": sinks, **kwargs}
    return opts, float(conf.get(POLL_KEY, 30.0))


def _finish(job: BatchJob, return_exceptions: bool) -> list[Any]:
    out = job.results()
    if not return_exceptions:
        for r in out:
            if isinstance(r, BaseException):
                raise r
    return out


def lane_batch(router: Any, inputs: Sequence[Any], config: Any = None, *,
               return_exceptions: bool = False, **kwargs: Any) -> list[Any]:
    """Submit ``inputs`` on the configured lane, wait, and return the answers in order."""
    opts, poll_s = _options(config, kwargs)
    job = submit_batch(router, list(inputs), **opts)
    job.wait(poll_s=poll_s)
    return _finish(job, return_exceptions)


async def alane_batch(router: Any, inputs: Sequence[Any], config: Any = None, *,
                      return_exceptions: bool = False, **kwargs: Any) -> list[Any]:
    """:func:`lane_batch` for asyncio."""
    opts, poll_s = _options(config, kwargs)
    job = await asubmit_batch(router, list(inputs), **opts)
    await job.wait_async(poll_s=poll_s)
    return _finish(job, return_exceptions)
