"""Flag checks for the commands, run by argparse before any work starts.

Each ``type=`` function turns a flag's text into its value or raises ``ArgumentTypeError`` with
what was expected and what was given; :class:`OneLineParser` prints that as one line and exits 2
(argparse's own ``error()`` prints the usage block first).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from langchain_costrouter.exceptions import ConfigError

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())
        print(f"{self.prog}: error: {text} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _int(text: str) -> int:
    try:
        return int(text.strip().replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def int_at_least(low: int) -> Callable[[str], int]:
    """A whole number ``>= low``."""

    def parse(text: str) -> int:
        n = _int(text)
        if n < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {n}")
        return n

    parse.__name__ = f"int_at_least_{low}"
    return parse


def port(text: str) -> int:
    """A TCP port, 0 to 65535 (0: a free one)."""
    n = _int(text)
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535 (0: a free one), got {n}")
    return n


def finite_float(low: float = 0.0) -> Callable[[str], float]:
    """A finite number ``>= low``; NaN and infinity are refused."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(v) or v < low:
            raise argparse.ArgumentTypeError(f"expected a finite number >= {low}, got {text!r}")
        return v

    parse.__name__ = "finite_float"
    return parse


def finite_decimal(text: Any, what: str = "value") -> Decimal:
    """``text`` as a finite ``Decimal`` (``40%`` -> 0.4); ``ConfigError`` for NaN, inf, junk."""
    s = str(text).strip()
    try:
        d = Decimal(s.rstrip("%"))
    except InvalidOperation:
        raise ConfigError(f"{what}: expected a number, got {text!r}") from None
    if not d.is_finite():
        raise ConfigError(f"{what}: expected a finite number, got {text!r}")
    return d / 100 if s.endswith("%") else d


def usd(text: str) -> Decimal:
    """A finite, positive USD amount."""
    try:
        d = finite_decimal(text, "amount")
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("amount: ")) from None
    if d <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive USD amount, got {text!r}")
    return d


def share(text: str) -> Decimal:
    """A share within 0..1 (or a percentage, ``25%``)."""
    try:
        d = finite_decimal(text, "share")
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("share: ")) from None
    if not 0 <= d <= 1:
        raise argparse.ArgumentTypeError(f"must be within 0..1 (or 0%..100%), got {text!r}")
    return d


def http_url(text: str) -> str:
    """An ``http://`` or ``https://`` URL."""
    if not text.startswith(("http://", "https://")) or len(text) <= len("https://"):
        raise argparse.ArgumentTypeError(f"must start with http:// or https://, got {text!r}")
    return text


def from_config(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """A parser that raises ``ConfigError`` as an argparse type error (one line, exit 2)."""

    def wrapped(text: str) -> Any:
        try:
            return parse(text)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    wrapped.__name__ = getattr(parse, "__name__", "value")
    return wrapped
