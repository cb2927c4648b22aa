"""Test helpers that ship with the package: a local OpenAI-compatible provider server, and
``FunctionChatModel``, a chat model backed by a plain function (no network).

Names load lazily so that importing ``langchain_costrouter.testing`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "FunctionChatModel": "langchain_costrouter.testing.function_model",
    "echo": "langchain_costrouter.testing.function_model",
    "LocalServer": "langchain_costrouter.testing.server",
    "ServerConfig": "langchain_costrouter.testing.config",
    "ModelBehaviour": "langchain_costrouter.testing.config",
    "FaultPlan": "langchain_costrouter.testing.faults",
    "server_app": "langchain_costrouter.testing.app",
    "asgi_clients": "langchain_costrouter.testing.inprocess",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
