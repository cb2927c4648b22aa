"""``costrouter batch submit|status|collect``: run prompts through provider Batch APIs.

``submit prompts.jsonl`` reads one prompt per line (``{"prompt": "..."}``, ``{"messages":
[...]}`` or a JSON string), routes each, submits the job and prints its id. ``status ID``
polls once and prints where it stands. ``collect ID --out results.jsonl`` waits (with a
progress bar) and writes one line per input, in input order: the answer or the item's error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from langchain_costrouter.exceptions import BatchItemError, WorkloadFileError


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("batch", help="submit, follow and collect batch jobs (50%% cheaper lanes)",
                       description="Provider Batch APIs behind the router; jobs are durable.")
    bsub = p.add_subparsers(dest="batch_command", metavar="{submit,status,collect}")
    bsub.required = True

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--store", default="costrouter-batches.db", metavar="DB",
                       help="SQLite job store (default costrouter-batches.db)")
        q.add_argument("--base-url", metavar="URL",
                       help="serve every catalog model from this OpenAI-compatible base URL")
        q.add_argument("--catalog", metavar="FILE", help="YAML/JSON catalog overrides")

    s = bsub.add_parser("submit", help="route and submit prompts from a JSONL file")
    s.add_argument("prompts", metavar="PROMPTS.jsonl")
    s.add_argument("--lane", choices=["batch", "flex"], default="batch")
    s.add_argument("--fallback", default="", metavar="LANES",
                   help="lanes for models without --lane, e.g. flex,realtime (default: none)")
    s.add_argument("--retry", action="store_true",
                   help="answer expired/cancelled items on realtime")
    s.add_argument("--model", help="pin every prompt to this catalog model")
    s.add_argument("--level", help="pin every prompt to this level")
    common(s)
    s.set_defaults(func=run_submit)
    st = bsub.add_parser("status", help="poll a job once and print its state")
    st.add_argument("job_id", metavar="ID")
    common(st)
    st.set_defaults(func=run_status)
    c = bsub.add_parser("collect", help="wait for a job and write its results")
    c.add_argument("job_id", metavar="ID")
    c.add_argument("--out", required=True, metavar="PATH", help="results JSONL")
    c.add_argument("--poll-s", type=float, default=30.0, help="first wait between polls")
    c.add_argument("--timeout-s", type=float, default=None, help="give up waiting after this")
    common(c)
    c.set_defaults(func=run_collect)


def _router(args: argparse.Namespace) -> Any:
    from langchain_costrouter import ChatCostRouter
    from langchain_costrouter.models.catalog import Catalog
    from langchain_costrouter.models.lanes import with_lanes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cat = Catalog.from_file(args.catalog) if args.catalog else Catalog.default()
        if args.base_url:
            cat = cat.served_by(args.base_url)
        return ChatCostRouter(catalog=with_lanes(cat))


def read_prompts(path: str) -> list[Any]:
    """Inputs from a JSONL file; a bad line is a ``WorkloadFileError`` naming the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise WorkloadFileError(path, None, e.strerror or str(e)) from None
    out: list[Any] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise WorkloadFileError(path, n, f"not JSON ({e.msg})") from None
        if isinstance(obj, str) and obj:
            out.append(obj)
        elif isinstance(obj, dict) and isinstance(obj.get("prompt"), str):
            out.append(obj["prompt"])
        elif isinstance(obj, dict) and isinstance(obj.get("messages"), list) and obj["messages"]:
            out.append(obj["messages"])
        else:
            raise WorkloadFileError(path, n, 'expected {"prompt": str}, {"messages": [...]} '
                                             "or a JSON string")
    if not out:
        raise WorkloadFileError(path, None, "no prompts")
    return out


def run_submit(args: argparse.Namespace) -> int:
    from langchain_costrouter.batch import submit_batch

    inputs = read_prompts(args.prompts)
    kw = {k: getattr(args, k) for k in ("model", "level") if getattr(args, k)}
    fallback = [x for x in args.fallback.split(",") if x]
    job = submit_batch(_router(args), inputs, store=args.store, lane=args.lane,
                       fallback_lanes=fallback, retry=args.retry, **kw)
    st = job.status()
    print(job.id)
    print(f"submitted {st.total} items in {sum(st.chunks.values())} provider batch(es); "
          f"store {args.store}", file=sys.stderr)
    return 0


def run_status(args: argparse.Namespace) -> int:
    from langchain_costrouter.batch import BatchJob

    job = BatchJob.resume(args.job_id, args.store, router=_router(args))
    print(job.poll().line())
    return 0


def progress_bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // max(total, 1)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def run_collect(args: argparse.Namespace) -> int:
    from langchain_costrouter.batch import BatchJob

    job = BatchJob.resume(args.job_id, args.store, router=_router(args))
    tty = sys.stderr.isatty()

    def show(st: Any) -> None:
        end = "\r" if tty and not st.done else "\n"
        print(f"{progress_bar(st.finished, st.total)} {time.strftime('%H:%M:%S')}",
              end=end, file=sys.stderr, flush=True)

    st = job.wait(poll_s=args.poll_s, timeout_s=args.timeout_s, on_progress=show)
    if not st.done:
        print(f"not finished: {st.line()}", file=sys.stderr)
        return 1
    with open(args.out, "w", encoding="utf-8") as f:
        for i, r in enumerate(job.results()):
            if isinstance(r, BatchItemError):
                row: dict[str, Any] = {"index": i, "ok": False, "kind": r.kind,
                                       "error": r.message}
            else:
                meta = r.response_metadata
                row = {"index": i, "ok": True, "content": r.content,
                       "tier": meta.get("costrouter_tier"), "lane": meta.get("costrouter_lane"),
                       "cost_usd": meta.get("cost_usd"), "usage": r.usage_metadata}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(st.line(), file=sys.stderr)
    return 0
