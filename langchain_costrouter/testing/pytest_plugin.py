"""pytest fixtures for the local provider server (registered as the ``costrouter`` pytest11 plugin).

* ``costrouter_server``: one session-wide :class:`LocalServer` serving the default catalog with
  zero latency and no faults. Tests that change its faults should heal them afterwards.
* ``redis_url``: one real ``redis-server`` per session on a free loopback port (skipped when the
  binary is missing, failed instead when ``COSTROUTER_REQUIRE_REDIS=1``).
* ``costrouter_server_factory``: ``factory(config=None, **kwargs) -> LocalServer``, started at
  once and stopped at the end of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from langchain_costrouter.testing.config import ServerConfig
from langchain_costrouter.testing.redis_server import (
    MISSING,
    redis_binary,
    redis_required,
    redis_server,
)
from langchain_costrouter.testing.server import LocalServer

ServerFactory = Callable[..., LocalServer]


@pytest.fixture(scope="session")
def costrouter_server() -> Iterator[LocalServer]:
    """A running server over the default catalog, zero latency (session-scoped)."""
    with LocalServer(ServerConfig.from_catalog(latency_scale=0)) as server:
        yield server


@pytest.fixture
def costrouter_server_factory() -> Iterator[ServerFactory]:
    """Start custom servers: ``factory(ServerConfig(...), port=0)``; all stop at teardown."""
    started: list[LocalServer] = []

    def factory(config: ServerConfig | None = None, **kwargs: Any) -> LocalServer:
        server = LocalServer(config, **kwargs).start()
        started.append(server)
        return server

    yield factory
    for server in reversed(started):
        server.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real redis-server started for this test session."""
    if redis_binary() is None:
        if redis_required():
            pytest.fail(MISSING + " and COSTROUTER_REQUIRE_REDIS=1")
        pytest.skip(MISSING)
    with redis_server() as url:
        yield url
