"""Image prompt tokens follow OpenAI's documented tile rule, read from the image's own header."""

from __future__ import annotations

import base64
import io
import random

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_openai.chat_models.base import _count_image_tokens

from langchain_costrouter.pricing.images import (
    LOW_DETAIL_TOKENS,
    UNKNOWN_SIZE_TOKENS,
    has_images,
    image_size,
    image_tokens,
    tile_tokens,
)
from langchain_costrouter.pricing.tokens import count_messages

Image = pytest.importorskip("PIL.Image")


def encoded(width: int, height: int, fmt: str = "PNG") -> str:
    """A real image file of that size, base64-encoded."""
    buf = io.BytesIO()
    Image.new("L", (width, height), color=128).save(buf, format=fmt)
    return base64.b64encode(buf.getvalue()).decode()


def data_url_block(width: int, height: int, fmt: str = "PNG", detail: str | None = None) -> dict:
    url = f"data:image/{fmt.lower()};base64,{encoded(width, height, fmt)}"
    inner = {"url": url, **({"detail": detail} if detail else {})}
    return {"type": "image_url", "image_url": inner}


@pytest.mark.parametrize(
    ("size", "tokens"),
    [
        ((1024, 1024), 765),   # OpenAI's own example: 768 x 768 after scaling, 4 tiles
        ((2048, 4096), 1105),  # their second example: 1024 x 2048 -> 768 x 1536, 6 tiles
        ((512, 512), 255),     # small images are not scaled up: 1 tile
        ((4032, 3024), 765),   # a 4:3 phone photo: 1024 x 768, 4 tiles
        ((2048, 768), 1445),   # the widest 2048-px image: 8 tiles
    ],
)
def test_tile_rule_matches_openais_documented_examples(size: tuple[int, int], tokens: int) -> None:
    assert tile_tokens(*size) == tokens


def test_tile_rule_agrees_with_langchain_openai_on_random_sizes() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        w, h = rng.randint(1, 9000), rng.randint(1, 9000)
        if min(w, h) * 2048 // max(w, h) == 0:
            continue  # langchain-openai scales such slivers to 0 px (0 tiles); we keep 1 px
        assert tile_tokens(w, h) == _count_image_tokens(w, h), (w, h)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_size_is_read_from_the_inline_image_header(fmt: str) -> None:
    block = data_url_block(1600, 900, fmt)
    assert image_size(block) == (1600, 900)
    assert image_tokens(block) == tile_tokens(1600, 900) == 1105  # 1365 x 768: 3 x 2 tiles


def test_other_block_shapes_and_detail() -> None:
    b64 = encoded(300, 200)
    shapes = [
        {"type": "image", "base64": b64, "mime_type": "image/png"},  # LangChain standard
        {"type": "image", "source_type": "base64", "data": b64, "mime_type": "image/png"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64}},
        {"type": "input_image", "image_url": f"data:image/png;base64,{b64}"},  # Responses API
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"},
         "width": 300, "height": 200},
    ]
    for block in shapes:
        assert image_tokens(block) == tile_tokens(300, 200) == 255, block
    assert image_tokens(data_url_block(4000, 4000, detail="low")) == LOW_DETAIL_TOKENS == 85


def test_unknown_size_uses_the_documented_default() -> None:
    url = {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
    assert image_tokens(url) == UNKNOWN_SIZE_TOKENS == tile_tokens(1024, 1024) == 765
    junk = {"type": "image", "base64": base64.b64encode(b"not an image at all").decode()}
    assert image_tokens(junk) == UNKNOWN_SIZE_TOKENS


def test_prompt_count_adds_each_image_by_its_size() -> None:
    text = HumanMessage("What is in this picture?")
    small = HumanMessage([{"type": "text", "text": "What is in this picture?"},
                          data_url_block(512, 512)])
    wide = HumanMessage([{"type": "text", "text": "What is in this picture?"},
                         data_url_block(2048, 768)])
    assert count_messages([small]) - count_messages([text]) == 255
    assert count_messages([wide]) - count_messages([text]) == 1445


def test_images_are_detected_in_every_shape() -> None:
    assert not has_images([HumanMessage("plain"), AIMessage("text")])
    assert not has_images([HumanMessage([{"type": "text", "text": "only text"}])])
    assert has_images([HumanMessage("first"), HumanMessage([data_url_block(10, 10)])])
    assert has_images([HumanMessage([{"type": "file", "mime_type": "image/png", "base64": "x"}])])
    assert not has_images([HumanMessage([{"type": "file", "mime_type": "application/pdf",
                                          "base64": "x"}])])
