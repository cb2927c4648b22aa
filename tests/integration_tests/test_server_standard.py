"""LangChain's standard integration suite: plain ChatOpenAI against the local server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_openai import ChatOpenAI
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_costrouter.testing.server import LocalServer, ServerConfig

# langchain-openai caches one default async httpx client per base_url (lru_cache); its pooled
# keep-alive connections belong to the event loop that opened them, so every async test of this
# module must share one loop. (The mark also lands on the sync tests; pytest-asyncio warns.)
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


class TestChatOpenAIAgainstLocalServer(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatOpenAI]:
        return ChatOpenAI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        assert _server is not None, "the module fixture starts the server"
        return {
            "model": "gpt-5.4-mini",
            "base_url": _server.base_url,
            "api_key": "test-key",
            "max_retries": 0,
            "stream_usage": True,
        }

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
