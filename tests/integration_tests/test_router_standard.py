"""LangChain's standard integration suite for ChatCostRouter, over real HTTP.

Every tier is a ChatOpenAI built from the catalog, pointed at the local OpenAI-compatible server
(`langchain_costrouter.testing.server`) on a loopback port. Tool calling is on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.testing.server import LocalServer, ServerConfig

# langchain-openai caches one async httpx client per base_url; its keep-alive connections belong
# to the event loop that opened them, so the async tests of this module share one loop.
pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.filterwarnings("ignore:The test <Function:pytest.PytestWarning"),
]

_server: LocalServer | None = None


@pytest.fixture(scope="module", autouse=True)
def _local_server() -> Iterator[LocalServer]:
    global _server
    with LocalServer(ServerConfig.from_catalog(latency_scale=0)) as srv:
        _server = srv
        yield srv
    _server = None


class TestChatCostRouterIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatCostRouter]:
        return ChatCostRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        assert _server is not None, "the module fixture starts the server"
        return {"catalog": Catalog.default().served_by(_server.base_url)}

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "gpt-5.4-nano"
