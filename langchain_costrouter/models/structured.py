"""Structured output through the router, for any of the three usual methods.

* ``function_calling`` (default): the schema becomes a forced tool call. Portable: every model
  with tool calling can serve it, so the router keeps all its candidates.
* ``json_schema``: the provider's native structured output (``response_format``); only models
  whose catalog entry has ``capabilities.structured_output`` are candidates.
* ``json_mode``: ``response_format={"type": "json_object"}``; the schema is only used to parse.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Any

from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

from langchain_costrouter.exceptions import ConfigError

if TYPE_CHECKING:
    from langchain_costrouter.router import ChatCostRouter

METHODS = ("function_calling", "json_schema", "json_mode")


def _response_format(schema: dict[str, Any] | type, strict: bool | None) -> dict[str, Any]:
    fn = convert_to_openai_tool(schema, strict=strict)["function"]
    json_schema: dict[str, Any] = {"name": fn["name"], "schema": fn["parameters"]}
    if fn.get("description"):
        json_schema["description"] = fn["description"]
    if strict is not None:
        json_schema["strict"] = strict
    return {"type": "json_schema", "json_schema": json_schema}


def structured_output_runnable(
    router: ChatCostRouter,
    schema: dict[str, Any] | type,
    *,
    method: str,
    strict: bool | None,
    include_raw: bool,
) -> Runnable[Any, Any]:
    if method not in METHODS:
        raise ConfigError(f"unknown structured output method {method!r}; use one of {METHODS}")
    is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    ls_format = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
    parser: Runnable[Any, Any]
    if method == "function_calling":
        llm = router.bind_tools(
            [schema], tool_choice="any", strict=strict, ls_structured_output_format=ls_format
        )
        if is_pydantic:
            parser = PydanticToolsParser(tools=[schema], first_tool_only=True)  # type: ignore[list-item]
        else:
            name = convert_to_openai_tool(schema)["function"]["name"]
            parser = JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
    else:
        if method == "json_schema":
            response_format = _response_format(schema, strict)
        else:
            response_format = {"type": "json_object"}
        llm = router.bind(response_format=response_format, ls_structured_output_format=ls_format)
        parser = (
            PydanticOutputParser(pydantic_object=schema)  # type: ignore[arg-type]
            if is_pydantic
            else JsonOutputParser()
        )
    if not include_raw:
        return llm | parser
    parse = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    no_parse = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=llm) | parse.with_fallbacks([no_parse], exception_key="parsing_error")
