"""Cost of scrubbing every log record: a log call with vs without the scrubbing record factory.

Run: ``.venv/bin/python -m benchmarks.scrub_overhead [--calls N] [--repeats R]``

Both loops log httpx's request line (the record every HTTP call makes) through a logger with a
``NullHandler``, in this process; the figure is the ratio of their medians, plus the cost of
``scrub_text`` on that line alone with 5 registered keys.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

from langchain_costrouter import redact

LINE = ("HTTP Request: %s %s \"%s\"", "POST", "http://127.0.0.1:8000/v1/chat/completions",
        "HTTP/1.1 200 OK")


def per_call_us(log: logging.Logger, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        log.info(*LINE)
    return (time.perf_counter() - started) / n * 1e6


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=20_000)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    for i in range(5):
        redact.register_secret(f"BENCHKEY{i:04d}abcdefgh")
    log = logging.getLogger("benchmarks.scrub")
    log.addHandler(logging.NullHandler())
    log.setLevel(logging.INFO)
    log.propagate = False
    plain_factory = logging.getLogRecordFactory()
    redact.install_log_scrubbing()
    scrubbing_factory = logging.getLogRecordFactory()
    plain, scrubbed = [], []
    for _ in range(args.repeats):  # interleaved, so load changes hit both alike
        logging.setLogRecordFactory(plain_factory)
        plain.append(per_call_us(log, args.calls))
        logging.setLogRecordFactory(scrubbing_factory)
        scrubbed.append(per_call_us(log, args.calls))
    line = LINE[0] % LINE[1:]
    started = time.perf_counter()
    for _ in range(args.calls):
        redact.scrub_text(line)
    alone = (time.perf_counter() - started) / args.calls * 1e6
    a, b = statistics.median(plain), statistics.median(scrubbed)
    print(f"log record, {args.calls:,} calls x {args.repeats} repeats (median)")
    print(f"  without scrubbing  {a:6.2f} us/record (baseline)")
    print(f"  with scrubbing     {b:6.2f} us/record ({b / a:.2f}x baseline, +{b - a:.2f} us)")
    print(f"scrub_text on that line alone: {alone:.2f} us")


if __name__ == "__main__":
    main()
