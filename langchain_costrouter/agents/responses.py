"""The model's answer inside what a ``create_agent`` model-call handler returns."""

from __future__ import annotations

from typing import Any

from langchain.agents.middleware.types import ExtendedModelResponse, ModelResponse
from langchain_core.messages import AIMessage


def message_of(response: Any) -> AIMessage | None:
    """The last ``AIMessage`` of a model response (plain, ``ModelResponse`` or extended)."""
    if isinstance(response, ExtendedModelResponse):
        response = response.model_response
    if isinstance(response, AIMessage):
        return response
    if isinstance(response, ModelResponse):
        for m in reversed(response.result):
            if isinstance(m, AIMessage):
                return m
    return None
