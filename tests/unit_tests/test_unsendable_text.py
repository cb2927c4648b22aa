"""A lone surrogate in a prompt is a clear ConfigError before anything is sent."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from langchain_costrouter.exceptions import ConfigError, InvalidTextError
from langchain_costrouter.text_check import check_messages, check_payload, check_text


def test_a_lone_surrogate_is_named_with_its_message_and_position() -> None:
    with pytest.raises(InvalidTextError) as info:
        check_messages([SystemMessage("be brief"), HumanMessage("caf\udce9 au lait")])
    err = info.value
    assert isinstance(err, ConfigError)
    assert (err.position, err.codepoint) == (3, 0xDCE9)
    assert "message 1 (human) content" in str(err) and "U+DCE9" in str(err)
    assert "UTF-8" in str(err)


def test_content_blocks_tool_calls_and_dict_messages_are_checked() -> None:
    with pytest.raises(InvalidTextError, match=r"content\[1\]\.text"):
        check_messages([HumanMessage(content=[{"type": "text", "text": "ok"},
                                              {"type": "text", "text": "bad \ud83d"}])])
    call = {"name": "search", "args": {"q": "x\ud800"}, "id": "c1", "type": "tool_call"}
    with pytest.raises(InvalidTextError, match="tool_calls"):
        check_messages([AIMessage(content="", tool_calls=[call])])
    with pytest.raises(InvalidTextError, match=r"message 0 \(user\)"):
        check_messages([{"role": "user", "content": "\udfff"}])
    with pytest.raises(InvalidTextError, match="tools"):
        check_payload([{"function": {"description": "d\ud800"}}], "tools")


def test_real_unicode_passes_untouched() -> None:
    text = "emoji 🙂, accents é, CJK 漢字, RTL עברית, zero-width \u200b"
    assert check_text(text, "prompt") == text
    check_messages([HumanMessage(text), {"role": "user", "content": [{"text": text}]}])
    text.encode("utf-8")  # what the HTTP client will do


def test_every_part_is_checked_names_keys_and_extra_fields() -> None:
    with pytest.raises(InvalidTextError, match=r"message 0 \(human\) name"):
        check_messages([HumanMessage("hi", name="b\udc80b")])
    with pytest.raises(InvalidTextError, match="key"):
        check_messages([HumanMessage(content=[{"type": "text", "text": "ok", "k\ud800": 1}])])
    # a field LangChain keeps as an extra attribute is read as the attribute it is
    with pytest.raises(InvalidTextError, match="tool_calls"):
        check_messages([HumanMessage("hi", tool_calls=[{"args": "x\ud800"}])])
    with pytest.raises(InvalidTextError, match=r"message 0 \(ai\) tool_calls"):
        check_messages([{"role": "ai", "tool_calls": [{"args": {"q": "\udfff"}}]}])


def test_nesting_below_the_depth_limit_is_not_walked() -> None:
    deep: object = "bad \ud800"
    for _ in range(7):
        deep = [deep]
    check_messages([HumanMessage(content=[{"type": "text", "text": "ok", "x": deep}])])
    shallow: object = "bad \ud800"
    for _ in range(3):
        shallow = [shallow]
    with pytest.raises(InvalidTextError):
        check_messages([HumanMessage(content=[{"type": "text", "text": "ok", "x": shallow}])])
