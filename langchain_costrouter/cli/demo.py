"""placeholder"""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo")
    p.set_defaults(func=lambda a: 0)
