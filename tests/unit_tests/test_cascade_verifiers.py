"""Verifier checks on hand-made answers: right answers pass, wrong ones are rejected with a reason
that says why, hostile answers neither raise nor take long."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from langchain_costrouter.cascade import (
    Request,
    Verifier,
    all_of,
    arithmetic,
    as_check,
    final_answer,
    json_answer,
    matches_schema,
    predicate,
    python_required,
    python_syntax,
)
from langchain_costrouter.cascade.arithmetic import evaluate, steps
from langchain_costrouter.cascade.registry import CHECKS, resolve_check
from langchain_costrouter.exceptions import CascadeCheckError, ConfigError

ABCD = (
    "Which gas do plants absorb?\nA) oxygen\nB) carbon dioxide\nC) helium\nD) neon\n"
    'Print only a single choice  from "A" or "B" or "C" or "D" without explanation.\nAnswer:'
)


def ask(prompt: str, **options: Any) -> Request:
    return Request.of_prompt(prompt, **options)


def says(text: str) -> AIMessage:
    return AIMessage(text)


# -- arithmetic -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "So 12 * 12 = 144, and 144 + 6 = 150.",
        "$2 \\times 3 = 6$ and \\frac{1}{2} + \\frac{1}{3} = \\frac{5}{6}",
        "1,000 + 2,000 = 3,000 apples",
        "10/3 = 3.33 (rounded), and 2^10 = 1024 = 1000 + 24",
        "Step 2. 3 + 4 = 7",
        "x^2 + 3 = 12 so x = 3",  # a variable: not arithmetic we can check
        "(6 + 2) choose 2 = 28",  # an operator word: skipped
        "1 + 2 + ... + 100 = 5050",  # an elided sum: skipped
        "the ratio 2 : 3 = 4 : 6",
        "`x = 3 + 4 == 8` in code is skipped",
        "```python\nassert 1 + 1 == 2\ny = 3 + 4 = 8\n```",
        '{"reasoning": "100 \\\\times 2 + 8 = 208", "answer": "208"}',
        "5/0 = 3 is a division by zero: no opinion",
    ],
)
def test_arithmetic_accepts_right_or_uncheckable_steps(text: str) -> None:
    assert arithmetic(says(text)) is None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("12 * 12 = 145", "12 * 12 = 145 does not hold (144 vs 145)"),
        ("so 3 + 4 = 7 = 8", "7 = 8"),
        ("10/3 = 3.2", "10/3 = 3.2"),
        ("\\frac{1}{2} + \\frac{1}{3} = \\frac{2}{5}", "does not hold"),
        ("We get 2^5 * 3 = 97.", "2^5 * 3 = 97"),
        ('{"reasoning": "44 \\\\times 45 - 1 = 1970", "answer": "1970"}', "44 * 45 - 1 = 1970"),
        ("Total: 1 - 5 = 4", "1 - 5 = 4"),
    ],
)
def test_arithmetic_rejects_a_step_that_does_not_recompute(text: str, needle: str) -> None:
    reason = arithmetic(says(text))
    assert reason is not None and reason.startswith("arithmetic:") and needle in reason


def test_arithmetic_counts_further_wrong_steps() -> None:
    reason = arithmetic(says("1 + 1 = 3, then 2 + 2 = 5, then 3 + 3 = 6"))
    assert reason is not None and "1 + 1 = 3" in reason and "(+1 more)" in reason


def test_the_parser_is_exact_and_refuses_what_it_cannot_bound() -> None:
    assert evaluate("0.1 + 0.2") == Fraction(3, 10)  # no float error
    assert evaluate("-(2 + 3) * 4 ^ 2 / 8") == -10
    assert evaluate("2 ** 3 ** 2") == 512  # right-associative
    for bad in ("10^10^10", "2^0.5", "(" * 40 + "1" + ")" * 40, "9" * 41, "1 +", "x + 1",
                "__import__('os')", "1; 2"):
        with pytest.raises(ValueError, match="not a bounded arithmetic expression"):
            evaluate(bad)


def test_steps_lists_every_link_of_a_chain() -> None:
    assert [(str(s), s.holds) for s in steps("2 + 2 = 4 = 2 * 3")] == [
        ("2 + 2 = 4", True), ("4 = 2 * 3", False)]


# -- final answer ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "text", "rejected"),
    [
        (ABCD, "B", False),
        (ABCD, "B) carbon dioxide", False),
        (ABCD, "The answer is (B).", False),
        (ABCD, "Carbon dioxide", True),
        (ABCD, "E", True),
        (ABCD, "", True),
        ("Sarah or Maria?\nA) Maria\nB) Sarah\nPlease answer with the letter.", "Sarah", True),
        ("Solve it. Put the result in \\boxed{}.", "so \\boxed{42}", False),
        ("Solve it. Put the result in \\boxed{}.", "it is 42", True),
        ("Solve it. Put the result in \\boxed{}.", "\\boxed{}", True),
        ("How many apples are left?", "There are 7 apples left.", False),
        ("How many apples are left?", '{"reasoning": "...", "answer": "7"}', False),
        ("How many apples are left?", '{"reasoning": "3 + 4", "answer": "Infinite"}', True),
        ("How many apples are left?", "We cannot know.", True),
        ("Reply in JSON with keys a and b.", "a is 1 and b is 2", True),
        ("Reply in JSON with keys a and b.", '{"a": 1, "b": 2}', False),
        ("Write a function to find the number of vowels.", "def f(s): ...", False),
        ("Tell me a story.", "Once upon a time.", False),
    ],
)
def test_final_answer(prompt: str, text: str, rejected: bool) -> None:
    reason = final_answer(says(text), ask(prompt))
    assert (reason is not None) is rejected, reason
    if rejected:
        assert reason is not None and reason.startswith("final answer:")


def test_final_answer_reads_the_schema_of_the_call() -> None:
    rf = {"type": "json_schema", "json_schema": {"name": "P", "schema": {"type": "object"}}}
    assert final_answer(says("no json"), ask("Who?", response_format=rf)) is not None
    assert final_answer(says("no json"), ask("Who?")) is None


def test_final_answer_without_the_request_has_no_opinion() -> None:
    assert final_answer(says("Carbon dioxide")) is None  # the one-argument form: no prompt


# -- python ---------------------------------------------------------------------------------------

WRITE = "Write a python function to add two numbers."


@pytest.mark.parametrize(
    ("prompt", "text", "rejected"),
    [
        (WRITE, "```python\ndef add(a, b):\n    return a + b\n```", False),
        (WRITE, "```python\ndef add(a, b)\n    return a + b\n```", True),
        (WRITE, "```\ndef add(a, b):\n    return a +\n```", True),  # untagged, Python asked
        (WRITE, "```python\ndef add(a, b):\n    return a + b\n", False),  # unclosed fence, code ok
        (WRITE, "```python\ndef add(a, b):\n    return a + b\n```\n"
                "```python\n>>> add(1, 2)\n3\n```", False),
        (WRITE, "```python\ndef add\\_two(a, b):\n    return a + b\n```", False),  # md escapes
        (WRITE, "```javascript\nfunction add(a, b) { return a + b }\n```", True),
        (WRITE, "Just use the + operator.", True),
        ("Explain recursion.", "```\nthis is not python (\n```", False),  # untagged, not asked
        ("Explain recursion.", "```python\ndef f(:\n```", True),
        ("Explain recursion.", "No code here.", False),
    ],
)
def test_python_syntax(prompt: str, text: str, rejected: bool) -> None:
    reason = python_syntax(says(text), ask(prompt))
    assert (reason is not None) is rejected, reason


def test_python_syntax_names_the_error_line() -> None:
    reason = python_syntax(says("```python\nx = 1\ny = (\n```"), ask(WRITE))
    assert reason is not None and "does not parse" in reason and "line 2" in reason


def test_python_required_wants_python_whatever_the_prompt() -> None:
    assert python_required(says("Here you go: function f() {}"), ask("Write a function.")) == (
        "python: no fenced Python code in the answer")
    assert python_syntax(says("Here you go: function f() {}"), ask("Write a function.")) is None
    assert python_required(says("```\ndef f():\n    pass\n```"), ask("Write a function.")) is None


def test_python_is_parsed_never_run(tmp_path: Any) -> None:
    marker = tmp_path / "ran"
    code = f"```python\nopen({str(marker)!r}, 'w').write('x')\n```"
    assert python_syntax(says(code), ask(WRITE)) is None
    assert not marker.exists()


# -- JSON -----------------------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
RF = {"type": "json_schema", "json_schema": {"name": "Person", "schema": SCHEMA}}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"name": "Ada", "age": 36}', None),
        ('```json\n{"name": "Ada", "age": 36}\n```', None),
        ('Here it is: {"name": "Ada", "age": 36}. Done.', None),
        ('{"name": "Ada", "age":', "JSON does not parse"),
        ('{"name": "Ada"}', "missing required keys ['age']"),
        ('{"name": "Ada", "age": "36"}', "$.age: expected integer, got string"),
        ('{"name": "Ada", "age": -1}', "$.age: -1 < minimum 0"),
        ('{"name": "Ada", "age": 36, "x": 1}', "unexpected key 'x'"),
        ("Ada is 36", "JSON does not parse"),
    ],
)
def test_json_answer_against_the_requested_schema(text: str, needle: str | None) -> None:
    reason = json_answer(says(text), ask("Who is she?", response_format=RF))
    if needle is None:
        assert reason is None
    else:
        assert reason is not None and needle in reason


def test_json_answer_without_an_ask_judges_only_answers_that_show_json() -> None:
    assert json_answer(says("Ada is 36"), ask("Who?")) is None
    assert json_answer(says('{"name": "Ada",'), ask("Who?")) is not None
    assert json_answer(says('```json\n{"a": [1, 2}\n```'), ask("Who?")) is not None
    assert json_answer(says("Ada is 36"), ask("Answer in JSON.")) is not None


def test_matches_schema_uses_the_given_schema() -> None:
    check = matches_schema(SCHEMA, name="person")
    assert check.name == "person"
    assert check(says('{"name": "Ada", "age": 36}')) is None
    assert "expected integer" in (check(says('{"name": "Ada", "age": 3.5}')) or "")
    with pytest.raises(ConfigError, match="JSON schema"):
        matches_schema(["not", "a", "schema"])  # type: ignore[arg-type]


# -- predicate, protocol, errors ------------------------------------------------------------------


def test_predicate_accepts_on_true_and_names_itself() -> None:
    sql = predicate(lambda t: "SELECT" in t, name="has_sql")
    assert sql.name == sql.__name__ == "has_sql"
    assert sql(says("SELECT 1")) is None
    assert sql(says("no")) == "has_sql failed"
    on_prompt = predicate(lambda t, req: req.prompt.split()[0] in t, name="echo",
                          reason="does not echo")
    assert on_prompt(says("hello there"), ask("hello")) is None
    assert on_prompt(says("bye"), ask("hello")) == "does not echo"
    with pytest.raises(ConfigError, match="name="):
        predicate(lambda t: True)
    with pytest.raises(ConfigError, match="callable"):
        predicate("yes")  # type: ignore[arg-type]


def test_as_check_mixes_one_and_two_argument_checks_and_binds_the_request() -> None:
    seen: list[str] = []

    def old_style(message: AIMessage) -> str | None:
        seen.append("old")
        return None

    def new_style(message: AIMessage, request: Request) -> str | None:
        seen.append(request.prompt)
        return "too short" if len(message.text) < 3 else None

    messages = [SystemMessage("Be brief."), HumanMessage("Hi")]
    check = as_check([old_style, new_style], {}, messages)
    assert check is not None
    assert check(says("ok")) == "too short"
    assert seen == ["old", "Be brief.\nHi"]
    assert as_check(None, {}) is None


def test_as_check_without_messages_keeps_the_old_call() -> None:
    check = as_check([final_answer], {})
    assert check is not None and check(says("anything")) is None


def test_a_check_that_raises_is_a_typed_error_naming_it() -> None:
    def broken(message: AIMessage) -> str | None:
        raise KeyError("sk-" + "a" * 40)

    check = as_check([broken], {})
    assert check is not None
    with pytest.raises(CascadeCheckError, match="cascade check 'broken' failed: KeyError") as e:
        check(says("x"))
    assert e.value.check == "broken"
    assert "a" * 40 not in str(e.value)  # scrubbed like every error text
    assert isinstance(e.value.__cause__, KeyError)


def test_a_check_returning_a_non_reason_is_a_typed_error() -> None:
    bad = Verifier(lambda m, r: True, "returns_bool")  # type: ignore[arg-type,return-value]
    check = as_check(bad, {})
    assert check is not None
    with pytest.raises(CascadeCheckError, match=r"'returns_bool'.*returned bool"):
        check(says("x"))


def test_all_of_binds_the_request_for_each_check() -> None:
    both = all_of(python_syntax, final_answer)
    assert both.name == "all_of(python_syntax, final_answer)"
    assert both(says("Carbon dioxide"), ask(ABCD)) is not None
    assert both(says("B"), ask(ABCD)) is None


def test_the_registry_resolves_names_and_combinations(tmp_path: Any) -> None:
    assert set(CHECKS) >= {"final_answer", "arithmetic", "python_syntax", "json_answer"}
    combo = resolve_check("arithmetic+final_answer")
    assert combo.name == "arithmetic+final_answer"
    assert combo(says("1 + 1 = 3"), ask("Tell me.")) is not None
    schema = tmp_path / "s.json"
    schema.write_text('{"type": "object", "required": ["a"]}')
    assert resolve_check(f"schema:{schema}")(says('{"b": 1}')) is not None
    for bad, needle in (("nope", "unknown cascade check 'nope'"), ("a+", "empty"),
                        ("schema:/no/such.json", "no schema file")):
        with pytest.raises(ConfigError, match=needle):
            resolve_check(bad)


# -- hostile answers ------------------------------------------------------------------------------

HOSTILE = {
    "a million digits": "9" * 1_000_000,
    "huge equal sides": "9" * 300_000 + " = " + "9" * 300_000,
    "towers of powers": "10^10^10^10 = 1 and 10**10**10 = 5 and (10^64)^64^64 = 3",
    "a long product": " * ".join(["9" * 40] * 60) + " = 1",
    "deep parentheses": "(" * 100_000 + "1" + ")" * 100_000 + " = 2",
    "a long sum": "1+" * 200_000 + "1 = 3",
    "only equals": "1 = " * 200_000,
    "deep JSON array": "[" * 200_000 + "]" * 200_000,
    "deep JSON object": '{"a":' * 100_000 + "1" + "}" * 100_000,
    "deep Python": "```python\n" + "(" * 100_000 + "\n```",
    "big Python": "```python\n" + "x = 1\n" * 100_000 + "```",
    "null bytes": "```python\nx = '\x00'\n```\n\x00 3 + 4 = 7",
    "lone surrogates": "\udcff\udcfe 1 + 1 = 2 \ufffd {\"a\": \"\udcff\"}",
    "many fences": "```\n" * 100_000,
    "open boxes": "\\boxed{" * 100_000,
}


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.parametrize("check", list(CHECKS.values()), ids=list(CHECKS))
def test_hostile_answers_get_a_verdict_not_an_exception(check: Verifier, name: str) -> None:
    prompt = ask('Write a python function. How many? Answer in JSON. \\boxed{} ' + ABCD)
    reason = check(says(HOSTILE[name]), prompt)
    assert reason is None or isinstance(reason, str)


def test_hostile_answers_are_not_misjudged() -> None:
    assert arithmetic(says(HOSTILE["huge equal sides"])) is None  # beyond the bounds: no opinion
    assert arithmetic(says(HOSTILE["towers of powers"])) is None
    assert "deeply" in (json_answer(says(HOSTILE["deep JSON array"]), ask("JSON")) or "")
    assert python_syntax(says(HOSTILE["deep Python"]), ask(WRITE)) is not None
    assert python_syntax(says(HOSTILE["big Python"]), ask(WRITE)) is None


def test_the_request_reads_prompt_and_schema() -> None:
    req = Request([SystemMessage("Be brief."), AIMessage("earlier"), HumanMessage("Who?")],
                  {"response_format": RF})
    assert req.prompt == "Be brief.\nWho?"  # the instructions, not earlier answers
    assert req.schema == SCHEMA
    assert Request(options={"response_format": {"type": "json_object"}}).schema == {
        "type": "object"}
    assert Request(options={"response_format": {"type": "text"}}).schema is None
    assert Request().prompt == "" and Request().schema is None
