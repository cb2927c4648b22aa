"""Small fakes shared by the router tests: an injected clock and a provider-shaped error."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from langchain_costrouter import Catalog
from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.testing.function_model import FunctionChatModel, echo

LEVELS = ("trivial", "standard", "complex", "expert")


class Clock:
    """Monotonic seconds that only move when a test moves them."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Boom(Exception):
    """A provider error shaped like the OpenAI SDK's: a status and a JSON error body."""

    def __init__(self, status: int, code: str | None = None) -> None:
        super().__init__(f"HTTP {status} {code or ''}".rstrip())
        self.status_code = status
        self.body = {"error": {"message": f"error {status}", "code": code}}


def cheap_and_backup(primary: Any) -> Catalog:
    """Two models on every level: ``cheap`` (answers with ``primary``) and a dearer ``backup``."""
    models = [
        {"name": "cheap", "provider": "a", "model": "cheap-1",
         "chat_model": FunctionChatModel(model_name="cheap-1", fn=primary),
         "prices": Prices(input=Decimal("0.1"), output=Decimal("0.4"))},
        {"name": "backup", "provider": "b", "model": "backup-1",
         "chat_model": FunctionChatModel(model_name="backup-1", fn=echo),
         "prices": Prices(input=Decimal("1"), output=Decimal("4"))},
    ]
    return Catalog.build({"models": models, "levels": {lv: ["cheap", "backup"] for lv in LEVELS}})
