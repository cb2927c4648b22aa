"""Shared test setup: the local-server fixtures that ship with the package.

Users load the same fixtures in their own tests with
``pytest_plugins = ["langchain_costrouter.testing.pytest_plugin"]``.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

pytest_plugins = ["langchain_costrouter.testing.pytest_plugin"]


@pytest.fixture(params=["sqlite", "redis"])
def shared_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    """(kind, target, key prefix) of one budget ledger that worker processes share: a migrated
    SQLite file, or a real Redis server with a fresh key prefix."""
    from langchain_costrouter.budget import SQLiteLedger

    if request.param == "sqlite":
        path = tmp_path / "ledger.db"
        SQLiteLedger(path).close()  # migrate once before the workers race
        return "sqlite", str(path), ""
    return "redis", request.getfixturevalue("redis_url"), f"t{uuid.uuid4().hex[:8]}:"
