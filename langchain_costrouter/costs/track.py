"""``with track_costs() as cb:`` counts every model call made inside the block.

Like langchain-core's ``get_usage_metadata_callback``: a ``ContextVar`` registered once as an
inheritable configure hook, so the handler reaches every run started in the block (threads
started with ``contextvars.copy_context``, LangChain's executors and asyncio tasks included)
without passing ``callbacks=``. The variable is reset in ``finally``: a block that raises
leaves no handler behind (``get_openai_callback`` leaked it, see shared/notes).

Nested blocks: the inner handler receives the calls and forwards each record to the outer one
(it is the inner handler's sink), so both count every call once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from langchain_core.tracers.context import register_configure_hook

from langchain_costrouter.costs.handler import CostTrackingCallbackHandler
from langchain_costrouter.costs.record import RecordSink

_active: ContextVar[CostTrackingCallbackHandler | None] = ContextVar(
    "langchain_costrouter_track_costs", default=None
)
register_configure_hook(_active, inheritable=True)


def active_tracker() -> CostTrackingCallbackHandler | None:
    """The handler of the innermost ``track_costs`` block around this code, if any."""
    return _active.get()


@contextmanager
def track_costs(
    handler: CostTrackingCallbackHandler | None = None,
    *,
    sinks: Sequence[RecordSink] = (),
    **handler_kwargs: Any,
) -> Iterator[CostTrackingCallbackHandler]:
    """Track every LLM call in the block; yields the handler (``cb.summary()``, ``cb.records``).

    Give a ready ``handler`` to keep counting across blocks, or handler arguments
    (``catalog=``, ``max_records=``, ``store_prompts=``, ``clock=`` ...).
    """
    if handler is not None and handler_kwargs:
        raise TypeError(
            f"pass either a handler or handler arguments, not both (got {sorted(handler_kwargs)})"
        )
    cb = handler or CostTrackingCallbackHandler(**handler_kwargs)
    outer = _active.get()
    added = [*sinks, *([outer] if outer is not None and outer is not cb else [])]
    for sink in added:
        cb.add_sink(sink)
    token = _active.set(cb)
    try:
        yield cb
    finally:
        _active.reset(token)
        for sink in added:  # the block's sinks (and the outer tracker) end with the block
            cb.remove_sink(sink)
