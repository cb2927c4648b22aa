"""OpenAI files + ``/v1/batches`` on the local server.

Routes: ``POST /v1/files`` (multipart, ``purpose=batch``), ``GET /v1/files/{id}``,
``GET /v1/files/{id}/content``, ``POST /v1/batches``, ``GET /v1/batches``,
``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``, and the ``/admin/batches`` script
and counters. A file over the limits, with a bad line, a repeated ``custom_id`` or two models
fails validation (status ``failed`` with ``errors``), as OpenAI's does.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.testing.batches import (
    OPENAI_MAX_BYTES,
    OPENAI_MAX_REQUESTS,
    BatchScript,
    BatchServer,
    ServedBatch,
)


def _err(status: int, message: str, param: str | None = None, code: str | None = None) -> Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param,
                      "code": code}}
    return JSONResponse(body, status_code=status)


def openai_batch(b: ServedBatch) -> dict[str, Any]:
    counts = {"total": len(b.requests), "completed": 0, "failed": 0}
    if b.results is not None:
        counts["completed"] = sum(r["outcome"] == "succeeded" for r in b.results)
        counts["failed"] = len(b.results) - counts["completed"]
    t = int(b.created_at)
    end = int(b.ended_at) if b.ended_at else None
    return {
        "id": b.id, "object": "batch", "endpoint": "/v1/chat/completions",
        "errors": {"object": "list", "data": b.errors} if b.errors else None,
        "input_file_id": b.input_file_id, "completion_window": "24h", "status": b.status,
        "output_file_id": b.output_file_id, "error_file_id": b.error_file_id,
        "created_at": t, "in_progress_at": t if b.polls else None, "expires_at": t + 86400,
        "finalizing_at": end, "completed_at": end if b.status == "completed" else None,
        "failed_at": end if b.status == "failed" else None,
        "expired_at": end if b.status == "expired" else None,
        "cancelling_at": t if b.cancel_requested else None,
        "cancelled_at": end if b.status == "cancelled" else None,
        "request_counts": counts, "metadata": b.metadata or None,
    }


def _openai_lines(server: BatchServer, b: ServedBatch) -> None:
    """Write the output and error files of an ended OpenAI batch (once)."""
    if b.results is None or b.output_file_id or b.error_file_id:
        return
    ok, bad = [], []
    for r in b.results:
        rid = "batch_req_" + secrets.token_hex(12)
        if r["outcome"] == "succeeded":
            line = {"id": rid, "custom_id": r["custom_id"], "error": None,
                    "response": {"status_code": 200, "request_id": rid, "body": r["body"]}}
        elif r["outcome"] == "errored":
            line = {"id": rid, "custom_id": r["custom_id"], "error": None,
                    "response": {"status_code": r["status"], "request_id": rid,
                                 "body": {"error": r["error"]}}}
        else:
            code = "batch_expired" if r["outcome"] == "expired" else "batch_cancelled"
            what = ("could not be executed before the completion window expired"
                    if code == "batch_expired" else "was cancelled before it was executed")
            line = {"id": rid, "custom_id": r["custom_id"], "response": None,
                    "error": {"code": code, "message": f"This request {what}."}}
        text = json.dumps(line)
        if r.get("malformed"):
            text = text[: len(text) // 2]
        (ok if r["outcome"] == "succeeded" else bad).append(text)
    with server.lock:
        if ok:
            b.output_file_id = _store_file(server, f"{b.id}_output.jsonl", ok, "batch_output")
        if bad:
            b.error_file_id = _store_file(server, f"{b.id}_error.jsonl", bad, "batch_output")


def _store_file(server: BatchServer, name: str, lines: list[str], purpose: str) -> str:
    fid = "file-" + secrets.token_hex(12)
    server.files[fid] = (name, ("\n".join(lines) + "\n").encode(), purpose)
    return fid


def _parse_multipart(ctype: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n"
                                              + raw)
    out: dict[str, tuple[str | None, bytes]] = {}
    if not msg.is_multipart():
        return out
    for part in msg.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if name:
            out[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return out


def _validate_openai(data: bytes, script: BatchScript) -> tuple[list[tuple[str, dict[str, Any]]],
                                                                 list[dict[str, Any]]]:
    reqs: list[tuple[str, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    models: set[str] = set()
    limit = script.max_requests or OPENAI_MAX_REQUESTS
    if len(data) > (script.max_bytes or OPENAI_MAX_BYTES):
        errors.append({"code": "file_too_large", "line": None,
                       "message": f"The input file is {len(data)} bytes; the limit is "
                                  f"{script.max_bytes or OPENAI_MAX_BYTES}."})
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            cid, body = obj["custom_id"], obj["body"]
            if obj.get("method") != "POST" or obj.get("url") != "/v1/chat/completions":
                raise ValueError("method must be POST and url /v1/chat/completions")
        except (ValueError, KeyError, TypeError) as e:
            errors.append({"code": "invalid_json_line", "line": n, "message": str(e)})
            continue
        if cid in seen:
            errors.append({"code": "duplicate_custom_id", "line": n,
                           "message": f"custom_id {cid!r} appears twice"})
        seen.add(cid)
        models.add(str(body.get("model")))
        reqs.append((str(cid), body))
    if len(reqs) > limit:
        errors.append({"code": "too_many_requests", "line": None,
                       "message": f"The batch has {len(reqs)} requests; the limit is {limit}."})
    if len(models) > 1:
        errors.append({"code": "mixed_models", "line": None,
                       "message": f"A batch may use one model; this one uses {sorted(models)}"})
    return reqs, errors


def openai_routes(server: BatchServer) -> list[Route]:
    async def upload(request: Request) -> Response:
        parts = _parse_multipart(request.headers.get("content-type", ""), await request.body())
        if "file" not in parts:
            return _err(400, "Missing required parameter: 'file'.", "file")
        purpose = parts.get("purpose", (None, b""))[1].decode()
        if purpose not in ("batch", "fine-tune", "assistants", "user_data"):
            return _err(400, f"Invalid value for 'purpose': {purpose!r}.", "purpose")
        name, data = parts["file"]
        fid = "file-" + secrets.token_hex(12)
        with server.lock:
            server.files[fid] = (name or "upload.jsonl", data, purpose)
        return JSONResponse(_file_obj(fid, server.files[fid]))

    async def file_meta(request: Request) -> Response:
        fid = request.path_params["fid"]
        if fid not in server.files:
            return _err(404, f"No such File object: {fid}", "id")
        return JSONResponse(_file_obj(fid, server.files[fid]))

    async def file_content(request: Request) -> Response:
        fid = request.path_params["fid"]
        if fid not in server.files:
            return _err(404, f"No such File object: {fid}", "id")
        return Response(server.files[fid][1], media_type="application/jsonl")

    async def create(request: Request) -> Response:
        try:
            payload = await request.json()
            fid = payload["input_file_id"]
        except (ValueError, KeyError, TypeError):
            return _err(400, "Missing required parameter: 'input_file_id'.", "input_file_id")
        if payload.get("endpoint") != "/v1/chat/completions":
            return _err(400, "Only /v1/chat/completions is served here.", "endpoint")
        if payload.get("completion_window") != "24h":
            return _err(400, "completion_window must be '24h'.", "completion_window")
        if fid not in server.files or server.files[fid][2] != "batch":
            return _err(400, f"File {fid} is not a file uploaded with purpose 'batch'.",
                        "input_file_id")
        script = server.script
        reqs, errors = _validate_openai(server.files[fid][1], script)
        b = ServedBatch(id="batch_" + secrets.token_hex(12), kind="openai", requests=reqs,
                        script=script, created_at=time.time(), input_file_id=fid,
                        metadata=dict(payload.get("metadata") or {}), errors=errors)
        server.add(b)
        return JSONResponse(openai_batch(b))

    def _get(request: Request) -> ServedBatch | Response:
        """The batch the path names, or OpenAI's 404 answer."""
        b = server.batches.get(request.path_params["bid"])
        if b is None or b.kind != "openai":
            return _err(404, f"No batch found with id '{request.path_params['bid']}'.", "id")
        return b

    async def retrieve(request: Request) -> Response:
        b = _get(request)
        if isinstance(b, Response):
            return b
        server.advance(b)
        _openai_lines(server, b)
        return JSONResponse(openai_batch(b))

    async def cancel(request: Request) -> Response:
        b = _get(request)
        if isinstance(b, Response):
            return b
        with server.lock:
            if b.status in ("validating", "in_progress"):
                b.cancel_requested = True
                b.status = "cancelling"
        return JSONResponse(openai_batch(b))

    async def listing(request: Request) -> Response:
        limit = int(request.query_params.get("limit", "20"))
        items = [openai_batch(b) for b in reversed(list(server.batches.values()))
                 if b.kind == "openai"][: max(1, min(limit, 100))]
        return JSONResponse({"object": "list", "data": items, "has_more": False,
                             "first_id": items[0]["id"] if items else None,
                             "last_id": items[-1]["id"] if items else None})

    async def set_script(request: Request) -> Response:
        try:
            payload = await request.json()
            server.script = BatchScript.from_dict(payload.get("script") or {})
        except (ValueError, TypeError, ConfigError) as e:
            return _err(400, f"bad batch script: {e}")
        return JSONResponse({"script": asdict(server.script)})

    async def stats(_: Request) -> Response:
        return JSONResponse(server.stats())

    return [
        Route("/v1/files", upload, methods=["POST"]),
        Route("/v1/files/{fid}", file_meta, methods=["GET"]),
        Route("/v1/files/{fid}/content", file_content, methods=["GET"]),
        Route("/v1/batches", create, methods=["POST"]),
        Route("/v1/batches", listing, methods=["GET"]),
        Route("/v1/batches/{bid}", retrieve, methods=["GET"]),
        Route("/v1/batches/{bid}/cancel", cancel, methods=["POST"]),
        Route("/admin/batches", set_script, methods=["POST"]),
        Route("/admin/batches", stats, methods=["GET"]),
    ]


def _file_obj(fid: str, entry: tuple[str, bytes, str]) -> dict[str, Any]:
    name, data, purpose = entry
    return {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()),
            "filename": name, "purpose": purpose}
