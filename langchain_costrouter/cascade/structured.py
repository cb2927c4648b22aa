"""Structured output and JSON answers.

* :func:`structured_check`: the parse check the router adds to every structured-output call
  (forced tool calls, ``response_format``), judged the way LangChain's own parsers will read it.
* :data:`json_answer`: a JSON answer that does not parse, strictly, or does not match the schema
  the call asked for; :func:`matches_schema` checks against a schema you give.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.utils.json import parse_json_markdown

from langchain_costrouter.cascade.base import Request, Verifier
from langchain_costrouter.cascade.schema import schema_error
from langchain_costrouter.exceptions import ConfigError


def structured_check(kwargs: Mapping[str, Any]) -> Callable[[AIMessage], str | None] | None:
    """The parse check for a structured-output call, ``None`` for any other call.

    * tools with a forced ``tool_choice`` (``"any"``, ``"required"``, a tool's name or a dict):
      the answer must hold a tool call of a bound tool, with JSON arguments that are an object
      having the tool schema's required keys;
    * ``response_format`` ``json_schema``: the text must parse as a JSON object (fenced JSON
      accepted, like LangChain's parsers) with the schema's required keys; ``json_object``: a
      JSON object.
    """
    tools = kwargs.get("tools")
    choice = kwargs.get("tool_choice")
    if tools and _forced(choice):
        schemas = {_tool_name(t): _tool_params(t) for t in tools}
        wanted = _chosen_name(choice)
        return lambda message: _check_tool_call(message, schemas, wanted)
    rf = kwargs.get("response_format")
    if isinstance(rf, Mapping) and rf.get("type") in ("json_schema", "json_object"):
        schema = (rf.get("json_schema") or {}).get("schema") or {}
        return lambda message: _check_json(message, schema)
    return None


def _forced(choice: Any) -> bool:
    if isinstance(choice, Mapping):
        return True
    return isinstance(choice, str) and choice not in ("auto", "none")


def _chosen_name(choice: Any) -> str | None:
    if isinstance(choice, Mapping):
        fn = choice.get("function")
        return fn.get("name") if isinstance(fn, Mapping) else choice.get("name")
    return None if choice in ("any", "required") else choice


def _tool_name(tool: Any) -> str:
    if isinstance(tool, Mapping):
        fn = tool.get("function")
        return str(fn.get("name") if isinstance(fn, Mapping) else tool.get("name"))
    return str(getattr(tool, "name", getattr(tool, "__name__", tool)))


def _tool_params(tool: Any) -> Mapping[str, Any]:
    if isinstance(tool, Mapping):
        fn = tool.get("function")
        params = fn.get("parameters") if isinstance(fn, Mapping) else tool.get("parameters")
        return params if isinstance(params, Mapping) else {}
    return {}


def _missing(args: Any, schema: Mapping[str, Any]) -> str | None:
    if not isinstance(args, Mapping):
        return f"arguments are {type(args).__name__}, not a JSON object"
    required = [k for k in schema.get("required") or [] if k not in args]
    if required:
        return f"missing required keys {required}"
    return schema_error(args, schema)


def _check_tool_call(
    message: AIMessage, schemas: Mapping[str, Mapping[str, Any]], wanted: str | None
) -> str | None:
    calls = [c for c in message.tool_calls if wanted is None or c["name"] == wanted]
    if not calls:
        bad = [c for c in message.invalid_tool_calls if wanted is None or c["name"] == wanted]
        if bad:
            return f"structured output: tool call {bad[0]['name']!r} has invalid JSON arguments"
        return "structured output: no tool call" + (f" to {wanted!r}" if wanted else "")
    call = calls[0]
    if call["name"] not in schemas:
        return f"structured output: call to unknown tool {call['name']!r}"
    why = _missing(call["args"], schemas[call["name"]])
    return f"structured output: tool call {call['name']!r} {why}" if why else None


def _check_json(message: AIMessage, schema: Mapping[str, Any]) -> str | None:
    text = message.text.strip()
    try:
        value = parse_json_markdown(text)
    except (json.JSONDecodeError, ValueError, TypeError, RecursionError):
        return "structured output: the answer is not valid JSON"
    why = _missing(value, schema)
    return f"structured output: {why}" if why else None


# -- JSON answers ---------------------------------------------------------------------------------

_FENCED_JSON = re.compile(r"```[ \t]*(?:json5?|JSON)?[ \t]*\r?\n(.*?)```", re.DOTALL)
_TAGGED_JSON = re.compile(r"```[ \t]*(?:json5?|JSON)[ \t]*\r?\n")
_ASKS_JSON = re.compile(r"\bjson\b", re.IGNORECASE)
_MAX_JSON_CHARS = 1_000_000  # a bigger answer is judged on its first million characters




def parse_json_answer(text: str) -> Any:
    """The JSON value of an answer, strictly (``json.loads``, no repair of truncated JSON): the
    whole text, else its first fenced block, else the span from its first ``{`` to its last
    ``}``. Raises ``ValueError`` naming why when none parses (too deep nesting included)."""
    text = text[:_MAX_JSON_CHARS].strip()
    tries = [text]
    if m := _FENCED_JSON.search(text):
        tries.append(m.group(1).strip())
    if (a := text.find("{")) >= 0 and (b := text.rfind("}")) > a:
        tries.append(text[a : b + 1])
    last = "no JSON in the answer"
    for candidate in tries:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as e:
            last = f"{e.msg} at line {e.lineno} column {e.colno}"
        except RecursionError:
            last = "nested too deeply"
    raise ValueError(last)


def _shows_json(text: str) -> bool:
    head = text.lstrip()[:1]
    return head == "{" or bool(_TAGGED_JSON.search(text[:_MAX_JSON_CHARS]))


def _json_reason(text: str, schema: Mapping[str, Any] | None) -> str | None:
    try:
        value = parse_json_answer(text)
    except ValueError as e:
        return f"JSON does not parse: {e}"
    if schema is not None and (err := schema_error(value, schema)):
        return f"JSON does not match the schema: {err}"
    return None


def _json_answer(message: AIMessage, request: Request) -> str | None:
    """Reject JSON that does not parse or does not match the requested schema.

    When the call asks for JSON (``response_format``, or the word "JSON" in its prompt) the
    answer must hold JSON that parses and matches the ``response_format`` schema if any. When it
    does not, an answer that *presents* JSON (opens with ``{`` or holds a fenced JSON block)
    must still parse; prose passes. Strict: a truncated object is rejected, where LangChain's
    lenient parser would close it.

    False-escalation rate (correct weak answers rejected), measured on the shared routing data's
    responses: 16.2% on math-level5 and 6.7% on cruxeval-o, whose JSON answers often hold LaTeX
    or code with backslashes that are not valid JSON escapes (their graders read the answer
    leniently); 0% on arc-challenge, winogrande and mbpp.
    """
    text = message.text
    schema = request.schema
    if schema is None and not _ASKS_JSON.search(request.prompt) and not _shows_json(text):
        return None
    return _json_reason(text, schema)


json_answer = Verifier(_json_answer, "json_answer")


def matches_schema(schema: Mapping[str, Any], name: str = "matches_schema") -> Verifier:
    """Reject an answer that is not JSON matching ``schema`` (whatever the call asked for)."""
    if not isinstance(schema, Mapping):
        raise ConfigError(f"matches_schema needs a JSON schema (a mapping), got {schema!r}")

    def check(message: AIMessage, request: Request) -> str | None:
        return _json_reason(message.text, schema)

    return Verifier(check, name, matches_schema.__doc__)
