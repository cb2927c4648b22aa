"""Deterministic, plausible replies for the local server.

A reply depends only on (model, seed, request): a tool call when a tool is forced or matches the
prompt, schema-valid JSON for ``response_format``, else text shaped by the prompt (a label for a
classification, a code block for code, a short greeting, an answer for a question) with a
length drawn from a seeded lognormal. ``stop`` and ``max_tokens`` cut it like a real model.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

from langchain_costrouter.pricing.tokens import count_text, get_encoding
from langchain_costrouter.testing.config import ModelBehaviour
from langchain_costrouter.testing.jsonfill import STOPWORDS, PromptValues, fill


class RequestError(ValueError):
    """A request the server answers with 400; ``param`` names the bad field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass
class Reply:
    content: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"

    @property
    def completion_tokens(self) -> int:
        """Tokens of the text plus tokens of each tool call's arguments."""
        n = count_text(self.content or "")
        return n + sum(count_text(tc["function"]["arguments"]) for tc in self.tool_calls)


def request_rng(seed: int, model: str, body: dict[str, Any]) -> random.Random:
    keys = ("messages", "tools", "tool_choice", "response_format", "seed")
    canon = json.dumps(
        [seed, model, {k: body.get(k) for k in keys}], sort_keys=True, default=str
    )
    return random.Random(int.from_bytes(hashlib.sha256(canon.encode()).digest()[:8], "big"))


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content
        ).strip()
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            return text_of(m.get("content"))
    return text_of(messages[-1].get("content")) if messages else ""


def make_reply(
    body: dict[str, Any], model: str, seed: int, behaviour: ModelBehaviour
) -> Reply:
    """The reply to a validated chat completion request."""
    rng = request_rng(seed, model, body)
    messages: list[dict[str, Any]] = body["messages"]
    prompt = last_user_text(messages)
    tool = choose_tool(body.get("tools") or [], body.get("tool_choice"), messages, prompt)
    if tool is not None:
        fn = tool["function"]
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        args = fill(params, PromptValues.parse(prompt), rng)
        call_id = "call_" + hashlib.sha256(f"{rng.random()}".encode()).hexdigest()[:24]
        arguments = json.dumps(args, ensure_ascii=False, separators=(",", ":"))
        reply = Reply(
            content=None,
            tool_calls=[
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": fn["name"], "arguments": arguments},
                }
            ],
            finish_reason="tool_calls",
        )
    else:
        reply = Reply(content=_content(body, messages, prompt, rng, behaviour))
    _apply_stop(reply, body.get("stop"))
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit is not None:
        _apply_limit(reply, int(limit))
    return reply


def _content(
    body: dict[str, Any],
    messages: list[dict[str, Any]],
    prompt: str,
    rng: random.Random,
    b: ModelBehaviour,
) -> str:
    fmt = body.get("response_format") or {}
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {"type": "object"}
        return json.dumps(fill(schema, PromptValues.parse(prompt), rng), ensure_ascii=False)
    if kind == "json_object":
        keys = PromptValues.parse(prompt).quoted or ["answer"]
        topic = PromptValues.parse(prompt).topic()
        return json.dumps({k: f"{k.capitalize()} about {topic}" for k in keys}, ensure_ascii=False)
    target = max(1, min(b.output_tokens_max, round(b.output_tokens_p50 * math.exp(
        rng.gauss(0.0, b.output_tokens_sigma)))))
    if messages and messages[-1].get("role") == "tool":
        result = text_of(messages[-1].get("content"))[:300] or "no output"
        return f"The tool returned {result}. Based on that result, {_sentence(rng, prompt)}"
    return text_reply(prompt, rng, target)


# tool choice ----------------------------------------------------------------------------


def _words(text: str) -> set[str]:
    parts = re.findall(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])|\d+", text.replace("_", " "))
    return {p.lower() for p in parts if len(p) >= 3 and p.lower() not in STOPWORDS}


def choose_tool(
    tools: list[dict[str, Any]], tool_choice: Any, messages: list[dict[str, Any]], prompt: str
) -> dict[str, Any] | None:
    """The tool to call, or ``None`` for a text reply."""
    fns = [t for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    if not fns or tool_choice == "none":
        return None
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name")
        for t in fns:
            if t["function"].get("name") == name:
                return t
        raise RequestError(f"tool_choice names unknown function {name!r}", "tool_choice")
    if tool_choice not in (None, "auto", "required"):
        raise RequestError(f"invalid tool_choice {tool_choice!r}", "tool_choice")
    prompt_words = _words(prompt)

    def score(t: dict[str, Any]) -> int:
        fn = t["function"]
        s = len(prompt_words & _words(f"{fn.get('name', '')} {fn.get('description', '')}"))
        return s + (10 if fn.get("name") and fn["name"] in prompt else 0)

    best = max(fns, key=score)  # first of the best on ties
    if tool_choice == "required":
        return best
    if messages and messages[-1].get("role") == "tool":
        return None
    if score(best) > 0 or re.search(r"\b(use|using|call)\s+(the|a|your)\s+tool", prompt, re.I):
        return best
    return None


# text -----------------------------------------------------------------------------------

_GREETING = re.compile(r"^\s*(hi|hello|hey|hola|howdy|good (morning|afternoon|evening))\b", re.I)
_CLASSIFY = re.compile(r"\b(classify|categori[sz]e|label|sentiment|which category)\b", re.I)
_CODE = re.compile(
    r"```|\b(code|function|python|javascript|typescript|implement|script|sql|regex|class|bug)\b",
    re.I,
)
_OPTIONS = re.compile(r"\b(\w+)\s*,\s*(\w+)\s*,?\s*(?:or|and)\s+(\w+)\b")
_NOUNS = (
    "cost", "latency", "model", "budget", "system", "result", "approach", "trade-off",
    "request", "answer", "detail", "context", "example", "method", "risk", "benefit",
)
_ADJ = ("simple", "careful", "practical", "reliable", "clear", "small", "robust", "common")
_TEMPLATES = (
    "The key point about {t} is that the {a} {n} usually matters most.",
    "In practice, {t} depends on the {n} and on the {n2}.",
    "A {a} way to look at {t} is to start from the {n}.",
    "Most people find that {t} becomes easier once the {n} is {a}.",
    "It also helps to compare the {n} with the {n2} before deciding.",
    "For example, a {a} {n} can change how {t} behaves.",
    "That said, the {n2} should not be ignored.",
    "Overall, {t} is best handled with a {a} {n} and a clear {n2}.",
)


def _sentence(rng: random.Random, prompt: str) -> str:
    topic = PromptValues.parse(prompt).topic()
    return rng.choice(_TEMPLATES).format(
        t=topic, a=rng.choice(_ADJ), n=rng.choice(_NOUNS), n2=rng.choice(_NOUNS)
    )


def _grow(text: str, target: int, more: Any) -> str:
    n = count_text(text)
    while n < target:
        piece = more()
        text += piece
        n += count_text(piece)
    return text


def text_reply(prompt: str, rng: random.Random, target: int) -> str:
    """Free text for ``prompt`` of about ``target`` tokens (labels and greetings are short)."""
    if _CLASSIFY.search(prompt):
        m = _OPTIONS.search(prompt)
        labels = list(m.groups()) if m else ["positive", "negative", "neutral"]
        return rng.choice(labels)
    if _GREETING.match(prompt) and len(prompt.split()) <= 6:
        return rng.choice(
            ("Hello! How can I help you today?", "Hi there! What can I do for you?",
             "Hello! What would you like to talk about?")
        )
    if _CODE.search(prompt):
        return _code_reply(prompt, rng, target)
    opener = f"Here is an answer about {PromptValues.parse(prompt).topic()}."
    return _grow(opener, target, lambda: " " + _sentence(rng, prompt))


def _code_reply(prompt: str, rng: random.Random, target: int) -> str:
    lang = next(
        (x for x in ("javascript", "typescript", "sql", "rust", "go") if x in prompt.lower()),
        "python",
    )
    name = "_".join(sorted(_words(prompt))[:2]) or "solve"
    head = f"Here is a {lang} implementation:\n\n```{lang}\n"
    if lang == "python":
        head += f"def {name}(items):\n    result = []\n"
        line = "    result.append(item_{i} * {k})  # step {i}\n"
        tail = "    return result\n```\n"
    else:
        head += f"// {name}\n"
        line = "const step{i} = input.map((x) => x * {k});\n"
        tail = "```\n"
    counter = iter(range(1, 10_000))

    def more() -> str:
        i = next(counter)
        return line.format(i=i, k=rng.randint(2, 9))

    body = _grow(head, max(target - 20, 1), more)
    return body + tail + "\nEach step transforms the input and keeps the order of the items."


# stop and max_tokens --------------------------------------------------------------------


_JSON_TYPES = {bool: "a boolean", int: "an integer", float: "a number", dict: "an object"}


def stop_sequences(stop: Any) -> list[str]:
    """The stop sequences of a request, or a 400 ``RequestError`` as OpenAI answers one
    (``stop`` is a string, an array of up to 4 strings, or null)."""
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop] if stop else []
    if isinstance(stop, list):
        if len(stop) > 4:
            raise RequestError(
                f"Invalid 'stop': array too long. Expected an array with maximum length 4, "
                f"but got an array with length {len(stop)} instead.", "stop")
        for i, s in enumerate(stop):
            if not isinstance(s, str):
                got = _JSON_TYPES.get(type(s), "a null" if s is None else "an array")
                raise RequestError(
                    f"Invalid type for 'stop[{i}]': expected a string, but got {got} instead.",
                    "stop")
        return [s for s in stop if s]
    got = _JSON_TYPES.get(type(stop), "an unsupported type")
    raise RequestError(
        f"Invalid type for 'stop': expected one of a string or array of strings, but got {got} "
        "instead.", "stop")


def _apply_stop(reply: Reply, stop: Any) -> None:
    stops = stop_sequences(stop)  # a bad ``stop`` is the caller's 400, never a 500
    if reply.content is None or not stops:
        return
    cut = min((i for s in stops if (i := reply.content.find(s)) >= 0), default=-1)
    if cut >= 0:
        reply.content = reply.content[:cut]
        reply.finish_reason = "stop"


def truncate_tokens(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` tokens (o200k_base)."""
    enc = get_encoding("o200k_base")
    ids = enc.encode(text, disallowed_special=())
    if len(ids) <= limit:
        return text
    n = limit
    while n > 0:
        cut = enc.decode(ids[:n]).rstrip("\ufffd")
        if count_text(cut) <= limit:
            return cut
        n -= 1
    return ""


def _apply_limit(reply: Reply, limit: int) -> None:
    if limit < 1:
        raise RequestError(f"max_tokens must be at least 1, got {limit}", "max_tokens")
    if reply.completion_tokens <= limit:
        return
    reply.finish_reason = "length"
    if reply.content is not None:
        reply.content = truncate_tokens(reply.content, limit)
    left = limit - count_text(reply.content or "")
    for tc in reply.tool_calls:
        args = tc["function"]["arguments"]
        tc["function"]["arguments"] = truncate_tokens(args, max(left, 0))
        left -= count_text(tc["function"]["arguments"])
