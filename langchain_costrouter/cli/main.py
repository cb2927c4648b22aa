"""Entry point of the ``costrouter`` console script.

Every expected failure (a bad file, a bad flag value, an unreachable endpoint, a port in use)
ends in ONE line on stderr and exit code 2, never a traceback. ``COSTROUTER_DEBUG=1`` shows
the traceback for bug reports.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from langchain_costrouter.cli.args import EXIT_USAGE, OneLineParser
from langchain_costrouter.exceptions import ConfigError, CostRouterError
from langchain_costrouter.redact import scrub_text

EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    from langchain_costrouter.cli import (
        batch_cmd,
        bench,
        calibrate_cmd,
        demo,
        eval_router,
        report_cmd,
        tco_cmd,
        train_scorer,
    )

    parser = OneLineParser(
        prog="costrouter",
        description="Route LangChain chat calls to the cheapest capable model; measure it.",
    )
    sub = parser.add_subparsers(
        dest="command",
        metavar="{tco,demo,bench,eval-router,train-scorer,calibrate,batch,report}",
    )
    sub.required = True
    tco_cmd.add_parser(sub)
    demo.add_parser(sub)
    bench.add_parser(sub)
    eval_router.add_parser(sub)
    train_scorer.add_parser(sub)
    calibrate_cmd.add_parser(sub)
    batch_cmd.add_parser(sub)
    report_cmd.add_parser(sub)
    return parser


def _one_line(e: BaseException) -> str:
    text = scrub_text(" ".join(str(e).split())) or type(e).__name__
    return text if len(text) <= 600 else text[:597] + "..."


def describe_error(e: BaseException) -> str | None:
    """A one-line description of an expected failure, or ``None`` for a bug."""
    if isinstance(e, ConfigError):
        return _one_line(e)
    if isinstance(e, CostRouterError):
        return f"{type(e).__name__}: {_one_line(e)}"
    if isinstance(e, OSError):
        return f"{e.strerror or _one_line(e)}" + (f": {e.filename}" if e.filename else "")
    name = type(e).__name__
    if name in {"ConnectError", "ConnectTimeout", "APIConnectionError"}:
        return f"cannot reach the endpoint ({name}: {_one_line(e)})"
    return None


def check_outputs(args: argparse.Namespace) -> None:
    """Output files must be writable, and ``--plot`` needs matplotlib, before the run starts."""
    from langchain_costrouter.cli import report

    for name in ("json", "csv", "plot", "out"):
        path = getattr(args, name, None)
        if isinstance(path, str) and path:
            report._writable(path)
    if getattr(args, "plot", None):
        report._pyplot()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:  # a bad flag: one line and exit 2 (OneLineParser), returned rather than raised
        args = parser.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code is None else e.code if isinstance(e.code, int) else EXIT_USAGE
    try:
        check_outputs(args)  # before any work: a long bench must not fail at its last line
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("costrouter: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:
        msg = describe_error(e)
        if msg is None or os.environ.get("COSTROUTER_DEBUG"):
            raise
        print(f"costrouter {args.command}: error: {msg}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
