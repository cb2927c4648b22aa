"""Image blocks in chat messages: finding them, and estimating their prompt tokens.

A request that carries an image must go to a model with ``Capabilities.vision``;
:func:`has_images` tells the planner so. The prompt-token estimate of an image follows OpenAI's
documented tile rule (the GPT-4o / GPT-4.1 "calculating costs" rule, also what
``ChatOpenAI.get_num_tokens_from_messages`` implements):

- ``detail="low"``: a flat 85 tokens;
- otherwise the image is scaled down to fit in 2048 x 2048, then down so that its shorter side is
  at most 768 px, and costs 85 + 170 tokens per 512-px tile.

The size is read from the image's header when the block carries the image inline (a ``data:``
URL or base64 data; PNG, JPEG, GIF, WebP and more, through ``imagesize``) or gives ``width`` and
``height``. Nothing is fetched from the network. When the size is unknown (an ``http`` URL) the
estimate is :data:`UNKNOWN_SIZE_TOKENS`: what a 1024 x 1024 image costs, and also what every
square or 4:3 image of at least 768 px costs; wider images cost up to 1,445.

Other providers count differently (Anthropic about width x height / 750, Gemini 258 per tile);
like the o200k text count, this is an estimate for them, and billing uses the usage the provider
reports.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from langchain_core.messages import BaseMessage

LOW_DETAIL_TOKENS = 85
BASE_TOKENS = 85
TILE_TOKENS = 170
TILE_PX = 512
MAX_SIDE_PX = 2048
SHORT_SIDE_PX = 768
UNKNOWN_SIZE_TOKENS = BASE_TOKENS + 4 * TILE_TOKENS  # 765: 1024 x 1024 at high detail

IMAGE_BLOCK_TYPES = frozenset({"image", "image_url", "input_image"})
_HEADER_B64_CHARS = 350_000  # ~256 KB of image: enough to reach a JPEG's size marker past EXIF


def tile_tokens(width: int, height: int) -> int:
    """OpenAI's high-detail token count of a ``width`` x ``height`` image."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width} x {height}")
    if max(width, height) > MAX_SIDE_PX:  # fit within 2048 x 2048
        if width > height:
            width, height = MAX_SIDE_PX, max(1, height * MAX_SIDE_PX // width)
        else:
            width, height = max(1, width * MAX_SIDE_PX // height), MAX_SIDE_PX
    if min(width, height) > SHORT_SIDE_PX:  # shorter side down to 768
        if width > height:
            width, height = width * SHORT_SIDE_PX // height, SHORT_SIDE_PX
        else:
            width, height = SHORT_SIDE_PX, height * SHORT_SIDE_PX // width
    tiles = math.ceil(width / TILE_PX) * math.ceil(height / TILE_PX)
    return BASE_TOKENS + TILE_TOKENS * tiles


def is_image_block(block: Any) -> bool:
    """Whether a content block is an image (OpenAI, LangChain standard or Anthropic shape)."""
    if not isinstance(block, Mapping):
        return False
    kind = block.get("type")
    if kind in IMAGE_BLOCK_TYPES:
        return True
    mime = block.get("mime_type") or block.get("media_type")
    return kind == "file" and isinstance(mime, str) and mime.startswith("image/")


def has_images(messages: Iterable[BaseMessage]) -> bool:
    """Whether any message carries an image block (the request then needs a vision model)."""
    for m in messages:
        content = m.content
        if isinstance(content, list) and any(is_image_block(b) for b in content):
            return True
    return False


def _detail(block: Mapping[str, Any]) -> str | None:
    inner = block.get("image_url")
    if isinstance(inner, Mapping) and inner.get("detail"):
        return str(inner["detail"])
    d = block.get("detail")
    return str(d) if d else None


def _inline_data(block: Mapping[str, Any]) -> str | None:
    """The start of the base64 payload of an inline image, if the block carries one."""
    inner = block.get("image_url")
    url = inner.get("url") if isinstance(inner, Mapping) else inner
    if not isinstance(url, str):
        url = block.get("url")
    if isinstance(url, str) and url.startswith("data:") and "," in url:
        start = url.index(",") + 1
        return url[start : start + _HEADER_B64_CHARS]
    for key in ("base64", "data"):
        if isinstance(block.get(key), str):
            return str(block[key])[:_HEADER_B64_CHARS]
    source = block.get("source")
    if isinstance(source, Mapping) and isinstance(source.get("data"), str):
        return str(source["data"])[:_HEADER_B64_CHARS]  # Anthropic's {"type": "image", ...}
    return None


def image_size(block: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(width, height)`` from the block's own fields or its inline image header, else None."""
    w, h = block.get("width"), block.get("height")
    if _positive_int(w) and _positive_int(h):
        return w, h
    data = _inline_data(block)
    return _header_size(data) if data else None


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


@lru_cache(maxsize=256)  # agent loops resend the same image on every turn
def _header_size(head: str) -> tuple[int, int] | None:
    head = head[: len(head) - len(head) % 4]
    try:
        raw = base64.b64decode(head, validate=False)
    except (binascii.Error, ValueError):
        return None
    import imagesize

    try:
        width, height = imagesize.get(io.BytesIO(raw))
    except Exception:  # a truncated or unknown format: imagesize raises or returns -1
        return None
    return (width, height) if width > 0 and height > 0 else None


def image_tokens(block: Mapping[str, Any]) -> int:
    """Estimated prompt tokens of one image block (see the module docstring for the rule)."""
    if _detail(block) == "low":
        return LOW_DETAIL_TOKENS
    size = image_size(block)
    return UNKNOWN_SIZE_TOKENS if size is None else tile_tokens(*size)

