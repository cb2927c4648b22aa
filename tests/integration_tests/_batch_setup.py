"""Shared setup of the batch tests: a router over the local server, with lanes."""

from __future__ import annotations

import warnings
from typing import Any

import httpx

from langchain_costrouter import ChatCostRouter
from langchain_costrouter.testing import ServerConfig
from langchain_costrouter.testing.lane_catalog import lane_catalog


def lane_router(base_url: str, **kwargs: Any) -> ChatCostRouter:
    """The lane test catalog served by ``base_url``, lanes from genai-prices."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ChatCostRouter(catalog=lane_catalog(base_url), api_key="test-key", **kwargs)


def lane_server_config() -> ServerConfig:
    """A zero-latency local server that serves the lane test catalog's models."""
    return ServerConfig.from_catalog(lane_catalog("http://127.0.0.1/v1"), latency_scale=0)


def script(url: str, **fields: Any) -> None:
    httpx.post(f"{url}/admin/batches", json={"script": fields}).raise_for_status()


def stats(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/admin/batches").json()  # type: ignore[no-any-return]


def prompts(n: int) -> list[str]:
    text = "Summarize record {i}: the shipment {j} arrived on day {d}."
    return [text.format(i=i, j=i * 7, d=i % 31) for i in range(n)]


TWO_PROVIDERS = {"trivial": ["gemini-flash"], "standard": ["gemini-flash"],
                 "complex": ["claude-sonnet"], "expert": ["claude-sonnet"]}
"""Levels that send easy prompts to Gemini (OpenAI-format batches) and hard ones to Claude
(message batches)."""


def mixed_prompts(n: int) -> list[str]:
    """Even items easy (routed to gemini-flash), odd items hard (routed to claude-sonnet)."""
    hard = ("Prove rigorously that the algorithm for item {i} terminates, derive its "
            "complexity step by step and write a Python implementation with tests.")
    return [prompts(n)[i] if i % 2 == 0 else hard.format(i=i) for i in range(n)]
