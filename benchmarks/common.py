"""Shared by the benchmarks: the local server in its own process, and small statistics.

The server runs in a subprocess so that its CPU time does not compete with the client under
the GIL; ratios are taken between clients measured in one process, interleaved.
"""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence


@contextlib.contextmanager
def server_process(latency_scale: float = 0.0, seed: int = 0) -> Iterator[str]:
    """Start ``python -m langchain_costrouter.testing.server`` on a free port; yield base URL."""
    cmd = [
        sys.executable, "-m", "langchain_costrouter.testing.server",
        "--port", "0", "--latency-scale", str(latency_scale), "--seed", str(seed),
        "--unknown-models", "serve", "--log-level", "error",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"(http://\S+/v1)", line)
        if not m:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"local server did not start: {line!r} {err[-500:]}")
        yield m.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))
    return s[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
