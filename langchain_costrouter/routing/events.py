"""Breaker transitions a call caused, sent as LangChain custom events of the router's run."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.callbacks.manager import (
    adispatch_custom_event,
    ahandle_event,
    dispatch_custom_event,
    handle_event,
)

from langchain_costrouter.resilience.breaker import TransitionEvent

BREAKER_EVENT = "costrouter_breaker"
"""Name of the LangChain custom event sent for each breaker transition a call causes."""


def event_dict(e: TransitionEvent) -> dict[str, Any]:
    return {
        "model": e.model,
        "old_state": e.old_state,
        "new_state": e.new_state,
        "reason": e.reason,
        "at": e.at,
    }


def emit_transitions(
    transitions: Sequence[TransitionEvent], run_manager: CallbackManagerForLLMRun | None
) -> None:
    for e in transitions:
        if run_manager is not None:  # reported as an event of the router's own run
            handle_event(
                run_manager.handlers,
                "on_custom_event",
                "ignore_custom_event",
                BREAKER_EVENT,
                event_dict(e),
                run_id=run_manager.run_id,
                tags=run_manager.tags,
                metadata=run_manager.metadata,
            )
        else:  # stream(): LangChain passes no run manager; use the parent run if any
            with contextlib.suppress(RuntimeError):
                dispatch_custom_event(BREAKER_EVENT, event_dict(e))


async def aemit_transitions(
    transitions: Sequence[TransitionEvent], run_manager: AsyncCallbackManagerForLLMRun | None
) -> None:
    for e in transitions:
        if run_manager is not None:
            await ahandle_event(
                run_manager.handlers,
                "on_custom_event",
                "ignore_custom_event",
                BREAKER_EVENT,
                event_dict(e),
                run_id=run_manager.run_id,
                tags=run_manager.tags,
                metadata=run_manager.metadata,
            )
        else:
            with contextlib.suppress(RuntimeError):
                await adispatch_custom_event(BREAKER_EVENT, event_dict(e))
