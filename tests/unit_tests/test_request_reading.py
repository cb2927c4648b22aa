"""What the scorer reads from a whole request: the task, the history, tools, results, schemas."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel

from langchain_costrouter.quality.baselines import LengthScorer, reference_prompts
from langchain_costrouter.routing.levels import Level
from langchain_costrouter.routing.request import read_request, schema_fields
from langchain_costrouter.routing.scorers import Thresholds

LONG = "The printer on floor 3 jams whenever duplex is on. " * 60


def test_system_task_and_human_turn_form_the_task() -> None:
    v = read_request([SystemMessage("Answer like a pirate."), HumanMessage("Why is the sky blue?")])
    assert v.task == "Answer like a pirate.\n\nWhy is the sky blue?"
    assert v.alone == "Why is the sky blue?" and not v.closed_form_document


def test_closed_form_instruction_over_a_long_document_is_the_task() -> None:
    sys_label = SystemMessage("Classify the ticket as billing, tech or other.")
    v = read_request([sys_label, HumanMessage(LONG)])
    assert v.closed_form_document and v.task == sys_label.content and v.alone is None
    inline = read_request([HumanMessage("Extract the printer's floor number.\n\n" + LONG)])
    assert inline.closed_form_document and "Extract" in inline.task and len(inline.task) < 900
    short = read_request([sys_label, HumanMessage("My invoice is wrong.")])
    assert not short.closed_form_document  # a short ticket is scored as it is


def test_history_tools_and_results() -> None:
    turns = [HumanMessage(f"turn {i}") for i in range(5)]
    v = read_request([*turns, HumanMessage("last")])
    assert v.history == ("turn 2", "turn 3", "turn 4") and v.task == "last"
    tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
    step = read_request([HumanMessage("go")], tools=[tool, tool])
    assert step.tool_step and step.n_tools == 2 and not step.after_tool
    call = AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": "1"}])
    after = read_request([HumanMessage("go"), call, ToolMessage("42", tool_call_id="1")],
                         tools=[tool])
    assert after.after_tool and not after.tool_step and not after.tool_error
    assert after.task == "go"  # the question, not the tool output, is the task
    failed = read_request([HumanMessage("go"), call,
                           ToolMessage("Traceback: KeyError", tool_call_id="1")], tools=[tool])
    assert failed.tool_error


class Minutes(BaseModel):
    decision: str
    owners: list[str]
    due: str


def test_schema_fields_from_every_form() -> None:
    assert schema_fields(None) == 0
    assert schema_fields(Minutes) == 3
    nested = {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "properties": {"a": {"type": "object", "properties": {
            "b": {"type": "string"}, "c": {"type": "string"}}}}}}}
    assert schema_fields(nested) == 3
    assert schema_fields({"type": "json_object"}) == 1


def test_thresholds_calibrate_gives_the_mix_on_the_sample() -> None:
    prompts = reference_prompts()
    scorer = LengthScorer()
    cuts = Thresholds.calibrate(scorer, prompts, mix=(0.4, 0.3, 0.2, 0.1))
    assert cuts.scale == scorer.scale
    levels = [cuts.level(scorer(p)) for p in prompts]
    share = {lv: levels.count(lv) / len(levels) for lv in Level}
    assert abs(share[Level.TRIVIAL] - 0.4) < 0.05 and abs(share[Level.EXPERT] - 0.1) < 0.05
