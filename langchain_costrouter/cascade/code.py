"""Fenced Python that does not parse, or no Python where the prompt asks for it.

The code is parsed with :func:`ast.parse`, never compiled to bytecode nor run. Measured choices
(on the shared routing data's mbpp answers, see the README):

* The answer's code is its **first** Python block. Later blocks are usage examples, shell
  sessions and variants: checking all of them rejected as many right answers as wrong ones.
* Doctest-style blocks (``>>> f(2)`` then ``4``) are judged on their ``>>>``/``...`` lines.
* A block that fails is parsed once more with Markdown escapes removed (``\\_``, ``\\*``): chat
  front-ends and some models escape underscores, and graders read the unescaped code.
* A block without a language tag counts as Python only when the prompt asks for Python.
"""

from __future__ import annotations

import ast
import re
import warnings

from langchain_core.messages import AIMessage

from langchain_costrouter.cascade.base import Request, Verifier

MAX_BLOCK_CHARS = 200_000
"""A bigger block is not judged (accepted): parsing it is no longer cheap."""

_FENCE = re.compile(
    r"^[ \t]*```[ \t]*([A-Za-z0-9_+.#-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.DOTALL | re.MULTILINE
)
_PY_TAGS = {"python", "py", "python3", "py3", "ipython", "pycon"}
_WRITE = r"\b(?:write|implement|create|code|develop|generate|give|provide|complete|fix)\b"
_ASKS_PYTHON = re.compile(
    _WRITE + r"[^.\n]{0,60}\bpython\b[^.\n]{0,40}"
    r"\b(?:function|code|program|script|class|method|snippet|implementation)\b"
    r"|" + _WRITE + r"[^.\n]{0,60}\b(?:function|code|program|script|class)\b[^.\n]{0,60}"
    r"\bin\s+python\b",
    re.IGNORECASE,
)
_ASKS_CODE = re.compile(
    _WRITE + r"[^.\n]{0,40}\b(?:function|program|code|script|class|method)\b", re.IGNORECASE
)


def python_blocks(text: str, *, untagged: bool) -> list[str]:
    """The fenced Python blocks of ``text`` in order; ``untagged`` counts blocks with no tag."""
    out = []
    for m in _FENCE.finditer(text):
        tag = m.group(1).lower()
        if tag in _PY_TAGS or (untagged and not tag):
            out.append(m.group(2))
    return out


def _doctest_source(code: str) -> str:
    lines = code.splitlines()
    if not any(line.lstrip().startswith(">>>") for line in lines):
        return code
    src = []
    for line in lines:
        s = line.lstrip()
        if s.startswith((">>> ", "... ")) or s in (">>>", "..."):
            src.append(s[4:])
    return "\n".join(src)


def syntax_error(code: str) -> str | None:
    """Why ``code`` does not parse as Python, ``None`` when it does (or is too big to judge)."""
    if len(code) > MAX_BLOCK_CHARS:
        return None
    code = _doctest_source(code)
    first = _parse(code)
    if first is None:
        return None
    unescaped = code.replace("\\_", "_").replace("\\*", "*")
    if unescaped != code and _parse(unescaped) is None:
        return None
    return first


def _parse(code: str) -> str | None:
    try:
        with warnings.catch_warnings():  # invalid escapes in strings warn; not our business
            warnings.simplefilter("ignore")
            ast.parse(code)
    except SyntaxError as e:
        return f"{e.msg} (line {e.lineno})"
    except (ValueError, RecursionError, MemoryError) as e:  # null bytes, absurd nesting
        return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    return None


def asks_for_python(prompt: str) -> bool:
    """Whether the prompt asks for Python code ("Write a python function ...")."""
    head = prompt[:20_000]
    return "python" in head.lower() and bool(_ASKS_PYTHON.search(head))


def asks_for_code(prompt: str) -> bool:
    """Whether the prompt asks for code in any language ("Write a function ...")."""
    return bool(_ASKS_CODE.search(prompt[:20_000]))


def python_code(*, required: bool = False, name: str | None = None) -> Verifier:
    """Reject an answer whose first fenced Python block does not parse, or that holds no
    Python block although Python is asked for: by the prompt ("Write a python function"), or
    always with ``required=True`` (for calls you know want Python, such as a code assistant's).

    False-escalation rate (correct weak answers rejected), measured on the shared routing data's
    mbpp responses: ``python_syntax`` 0% (gpt-3.5-turbo-1106) and 0.9% (mixtral-8x7b-chat), 0%
    on the other datasets; ``python_required`` 2.5% and 1.3% on mbpp, and, by design, 100% on
    calls that do not want code (use it only on code-generation calls).
    """

    def check(message: AIMessage, request: Request) -> str | None:
        asked = required or asks_for_python(request.prompt)
        blocks = python_blocks(message.text, untagged=asked)
        if not blocks:
            return "python: no fenced Python code in the answer" if asked else None
        why = syntax_error(blocks[0])
        return f"python: the code does not parse: {why}" if why else None

    label = name or ("python_required" if required else "python_syntax")
    return Verifier(check, label, python_code.__doc__)


python_syntax = python_code()
"""Fenced Python must parse; Python asked for by the prompt must be there."""
python_required = python_code(required=True)
"""Every answer must hold fenced Python that parses."""
