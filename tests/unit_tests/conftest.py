"""Unit-test setup: process-wide "warn once" state is reset around every test, so no test
depends on which test warned first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from langchain_costrouter.pricing import prices
from langchain_costrouter.routing import plan


@pytest.fixture(autouse=True)
def _fresh_warning_state() -> Iterator[None]:
    prices._warned.clear()
    plan._warned_keys.clear()
    yield
    prices._warned.clear()
    plan._warned_keys.clear()
