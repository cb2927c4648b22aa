"""LangChain's standard unit suite, run as our own tests, with tool calling on."""

from __future__ import annotations

from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_costrouter import ChatCostRouter
from langchain_costrouter.testing.function_model import FunctionChatModel


class TestChatCostRouterUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatCostRouter]:
        return ChatCostRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "model": "costrouter-test",
            "models": {
                "small": FunctionChatModel(model_name="fake-small"),
                "large": FunctionChatModel(model_name="fake-large"),
            },
        }

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "large"

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return {"COSTROUTER_API_KEY": "env-key"}, {}, {"api_key": "env-key"}
