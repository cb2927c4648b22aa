"""What a request asks for, read from the whole request rather than its last message.

:func:`read_request` turns messages + bound tools + a structured-output request into a
:class:`RequestView`:

* ``task``: the text whose difficulty is scored: the system prompt's instructions followed by
  the last human turn (scored no lower than the human turn alone, ``alone``). When the
  instruction asks for a closed-form answer (classify, label,
  extract, yes/no, ...) over a long document, ``task`` is the instruction alone: the length
  of the ticket or contract being labelled says nothing about how hard labelling it is.
* ``history``: the earlier human turns (the last :data:`HISTORY_TURNS`), so that a short
  follow-up inside a hard conversation ("I don't get step 3, redo it") is scored as hard too.
* ``tool_step``: tools are bound and the model must choose a call (the last message is the
  user's); ``after_tool``: the last message is a tool result, which the model reads and answers
  from; ``tool_error``: that result reports an error the model has to recover from.
* ``schema_fields``: the number of properties the structured output must fill.
* ``demands_proof``: the task asks for a proof or a derivation (prove, rigorous, show that ...).
  The public routing data has almost no such requests (its math asks for answers), so this is
  a hand-set prior rather than a learned weight.

:func:`plainness` is the other hand-set prior, applied to each scored text: a very short
request with no reasoning, math, code, domain or open-ended marker (a greeting, thanks, a
one-fact lookup, ``2+2``, a yes/no about a short text) is easy for any model. The public data
says the opposite of short prompts (its short prompts are knowledge and math questions that
weak models miss), so this cannot be learned from it either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from langchain_core.messages import BaseMessage

from langchain_costrouter.routing.features import scan
from langchain_costrouter.routing.keywords import (
    CLOSED_FORM,
    DOMAIN,
    MATH,
    OPEN_ENDED,
    PROOF,
    SIGNALS,
    spaced_words,
    stem_hits,
    stem_index,
    words_of,
)

HISTORY_TURNS = 3
LONG_DOCUMENT_CHARS = 1500
"""A human turn longer than this, under a closed-form instruction, is a document to label."""
PROOF_SCAN_CHARS = 2000
_EDGE = 400  # where an instruction sits in a long human turn: its first and last characters
_ERRORS = ("error", "exception", "traceback", "failed", "not found", "denied", "timeout")


PLAIN_FULL_CHARS = 60
"""A plain text up to this long gets the whole short prior; it fades out linearly ..."""
PLAIN_MAX_CHARS = 120
"""... to nothing at this length."""
_BLOCKERS = (*SIGNALS, MATH, PROOF, DOMAIN, OPEN_ENDED)
# the blockers as one set of words, one stem index and one tuple of phrases: one test each
# instead of one per group (the same matches as ``any(s.hit(...) for s in _BLOCKERS)``)
_BLOCK_WORDS = frozenset().union(*(s.words for s in _BLOCKERS))
_BLOCK_STEMS = stem_index(_BLOCKERS)
_BLOCK_PHRASES = tuple(dict.fromkeys(p for s in _BLOCKERS for p in s.phrases))
# math notation (x^2, 4k+3, 4x4, \frac, $, =), code, brackets, and words of 12+ letters
# (clarithromycin, anticoagulation: a specialist's term the keyword lists do not know)
_NOTATION = re.compile(r"[\^=$`{}\[\]<>|_#;]|\d[a-z]|[a-z]\d|[a-z]\s*[+*/]\s*\d|\d\s*[+*/]\s*[a-z]"
                       r"|[a-z]{12,}")


def plainness(text: str) -> float:
    """1.0 for a short request with no marker of hard work, fading to 0.0 at
    :data:`PLAIN_MAX_CHARS` characters; 0.0 when any marker is present (see the module doc)."""
    t = text.strip()
    return 0.0 if len(t) > PLAIN_MAX_CHARS else _plainness(t)


@lru_cache(maxsize=4096)
def _plainness(t: str) -> float:
    """:func:`plainness` of a stripped text of at most :data:`PLAIN_MAX_CHARS` characters (so
    the cache holds at most 4,096 short keys)."""
    n = len(t)
    if t.count("\n") > 2:
        return 0.0
    lower = t.lower()
    if _NOTATION.search(lower) or sum(c.isdigit() for c in t) > 6 or t.count("?") > 1:
        return 0.0
    _, words = spaced_words(lower)
    if not _BLOCK_WORDS.isdisjoint(words) or stem_hits(words, _BLOCK_STEMS):
        return 0.0
    if any(p in lower for p in _BLOCK_PHRASES):
        return 0.0
    if n <= PLAIN_FULL_CHARS:
        return 1.0
    return (PLAIN_MAX_CHARS - n) / (PLAIN_MAX_CHARS - PLAIN_FULL_CHARS)


def text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(b if isinstance(b, str) else str(b.get("text", ""))
                        for b in content if b)
    return str(content)


@dataclass(frozen=True)
class RequestView:
    task: str
    alone: str | None = None
    """The last human turn by itself when ``task`` also holds a system prompt: a system prompt
    can add demands to the task (a rigorous proof) but never make it easier."""
    history: tuple[str, ...] = ()
    tool_step: bool = False
    after_tool: bool = False
    tool_error: bool = False
    n_tools: int = 0
    schema_fields: int = 0
    closed_form_document: bool = False
    demands_proof: bool = False


def _closed_form(text: str) -> bool:
    lower = text.lower()
    return CLOSED_FORM.hit(words_of(lower), lower)


# every PROOF term contains one of these: a text with none of them cannot match (the exact
# test below splits words, which costs more than these substring tests)
_PROOF_HINTS = ("prov", "proof", "rigorous", "deriv", "formally", "show that", "demonstrate")


def _demands_proof(text: str) -> bool:
    lower = scan(text, PROOF_SCAN_CHARS).lower()  # the ends, where instructions sit
    if not any(h in lower for h in _PROOF_HINTS):
        return False
    return PROOF.hit(words_of(lower), lower)


def _instruction(system: str, human: str) -> str | None:
    """The closed-form instruction over a long document, or ``None`` when there is none."""
    if len(human) <= LONG_DOCUMENT_CHARS:
        return None
    if system and _closed_form(system):
        return system
    head, tail = human[:_EDGE], human[-_EDGE:]
    parts = [p for p in (head, tail) if _closed_form(p)]
    return "\n".join(parts) if parts else None


def _fields(schema: object, depth: int = 0) -> int:
    if depth > 4 or not isinstance(schema, dict):
        return 0
    props = schema.get("properties")
    n = 0
    if isinstance(props, dict):
        n += len(props)
        n += sum(_fields(v, depth + 1) for v in props.values())
    items = schema.get("items")
    if isinstance(items, dict):
        n += _fields(items, depth + 1)
    for key in ("$defs", "definitions"):
        defs = schema.get(key)
        if isinstance(defs, dict):
            n += sum(_fields(v, depth + 1) for v in defs.values())
    return n


def schema_fields(response_format: object) -> int:
    """Properties to fill in a structured-output request (OpenAI ``response_format`` dict,
    a JSON schema, or a pydantic model class)."""
    if response_format is None:
        return 0
    schema: Any = response_format
    if isinstance(schema, type) and hasattr(schema, "model_json_schema"):
        try:
            schema = schema.model_json_schema()
        except Exception:  # a model that cannot produce a schema counts as one field
            return 1
    if isinstance(schema, dict):
        inner = schema.get("json_schema")
        if isinstance(inner, dict):
            schema = inner.get("schema", inner)
        n = _fields(schema)
        return n or (1 if schema.get("type") in ("json_object", "json_schema", "object") else 0)
    return 1


def read_request(
    messages: Sequence[BaseMessage] | str,
    tools: Sequence[object] | None = None,
    response_format: object | None = None,
) -> RequestView:
    if isinstance(messages, str):
        return RequestView(task=messages, schema_fields=schema_fields(response_format),
                           demands_proof=_demands_proof(messages))
    system = "\n".join(text_of(m.content) for m in messages if m.type == "system").strip()
    humans = [i for i, m in enumerate(messages) if m.type == "human"]
    if humans:
        human = text_of(messages[humans[-1]].content)
    else:
        human = text_of(messages[-1].content) if messages else ""
    earlier = tuple(text_of(messages[i].content) for i in humans[:-1][-HISTORY_TURNS:])
    instruction = _instruction(system, human)
    joined = f"{system}\n\n{human}" if system else human
    task = instruction if instruction is not None else joined
    last = messages[-1] if messages else None
    after_tool = last is not None and last.type == "tool"
    tool_error = after_tool and any(e in text_of(last.content)[:2000].lower()  # type: ignore[union-attr]
                                    for e in _ERRORS)
    n_tools = len(tools or ())
    return RequestView(
        task=task,
        alone=human if system and instruction is None else None,
        history=tuple(f"{system}\n\n{h}" if system else h for h in earlier),
        tool_step=bool(n_tools) and not after_tool,
        after_tool=after_tool,
        tool_error=tool_error,
        n_tools=n_tools,
        schema_fields=schema_fields(response_format),
        closed_form_document=instruction is not None,
        demands_proof=_demands_proof(task),
    )

