"""ChatOpenAI against the server app in-process (no socket), sync and async."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from langchain_openai import ChatOpenAI

from langchain_costrouter.pricing.tokens import count_text
from langchain_costrouter.testing.app import ServerApp, server_app
from langchain_costrouter.testing.faults import FaultPlan
from langchain_costrouter.testing.inprocess import BASE_URL, asgi_clients


@pytest.fixture
def app_and_llm() -> Iterator[tuple[ServerApp, ChatOpenAI]]:
    app = server_app()
    sync_client, async_client = asgi_clients(app)
    llm = ChatOpenAI(model="m", base_url=BASE_URL + "/v1", api_key="test-key", max_retries=0,
                     stream_usage=True, http_client=sync_client, http_async_client=async_client)
    yield app, llm
    sync_client.close()


def test_sync_invoke_and_stream(app_and_llm: tuple[ServerApp, ChatOpenAI]) -> None:
    app, llm = app_and_llm
    msg = llm.invoke("What is a hash map?")
    assert msg.usage_metadata and msg.usage_metadata["output_tokens"] == count_text(msg.text)
    chunks = list(llm.stream("What is a hash map?"))
    assert "".join(c.text for c in chunks) == msg.text
    assert app.state.stats()["m"]["ok"] == 2


async def test_async_invoke_and_stream(app_and_llm: tuple[ServerApp, ChatOpenAI]) -> None:
    app, llm = app_and_llm
    assert app.state.stats() == {}
    msg = await llm.ainvoke("What is a hash map?")
    text = "".join([c.text async for c in llm.astream("What is a hash map?")])
    assert text == msg.text and msg.text


def test_in_process_drop_is_a_connection_error(app_and_llm: tuple[ServerApp, ChatOpenAI]) -> None:
    app, llm = app_and_llm
    app.state.set_faults("m", FaultPlan(script=("drop", "stream_cut")))
    with pytest.raises(openai.APIConnectionError):
        llm.invoke("hi")
    with pytest.raises(openai.APIConnectionError):
        llm.invoke("hi")
    assert llm.invoke("hi").text
