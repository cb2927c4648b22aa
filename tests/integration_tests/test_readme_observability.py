"""The README's per-tenant report, OpenTelemetry (in-memory, Prometheus, OTLP) and agent
middleware snippets run as written, against the local server on loopback."""

from __future__ import annotations

import re
import shlex
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.cli.main import main
from langchain_costrouter.testing import LocalServer, ServerConfig

README = Path(__file__).resolve().parents[2] / "README.md"


def section(heading: str) -> str:
    text = README.read_text(encoding="utf-8")
    m = re.search(rf"^### {re.escape(heading)}\n(.*?)(?=^### |^## )", text, re.S | re.M)
    assert m is not None, f"README has a section ### {heading}"
    return m.group(1)


def blocks(heading: str, lang: str = "python") -> list[str]:
    found = re.findall(rf"```{lang}\n(.*?)```", section(heading), re.S)
    assert found, f"README section {heading!r} has a {lang} block"
    return found


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(ServerConfig.from_catalog(latency_scale=0)) as srv:
        yield srv


def fresh_router(server: LocalServer) -> ChatCostRouter:
    return ChatCostRouter(catalog=Catalog.default().served_by(server.base_url))


def run(code: str, **scope: Any) -> dict[str, Any]:
    exec(compile(code, "README.md", "exec"), scope)
    return scope


def test_per_tenant_report_snippets_run(server: LocalServer, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (code,) = blocks("Per-tenant reports")
    scope = run(code, router=fresh_router(server))
    assert set(scope["by_user"]) == {"alice", "bob"}
    assert scope["by_user"]["alice"].requests == 2
    assert set(scope["by_pair"]) == {("alice", "eu"), ("bob", "eu")}
    first = blocks("Per-tenant reports", "bash")[0].splitlines()[0]
    argv = shlex.split(first.split("#")[0])
    assert argv[0] == "costrouter"
    assert main(argv[1:]) == 0
    assert (tmp_path / "spend.csv").read_text().count("\n") == 3  # header + alice + bob
    assert (tmp_path / "spend.png").read_bytes()[:4] == b"\x89PNG"


def test_opentelemetry_in_memory_snippet_runs(server: LocalServer,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("opentelemetry.sdk")
    scope = run(blocks("OpenTelemetry")[0], router=fresh_router(server))
    call = scope["call"]
    assert call.attributes["gen_ai.usage.input_tokens"] > 0
    assert call.attributes["costrouter.tenant"] == "alice"
    assert capsys.readouterr().out.startswith("chat ")


def test_prometheus_recipe_serves_the_genai_metrics(server: LocalServer,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    pytest.importorskip("opentelemetry.exporter.prometheus")
    started: list[Any] = []
    real = prometheus_client.start_http_server

    def on_a_free_port(port: int, *args: Any, **kwargs: Any) -> Any:
        out = real(0, addr="127.0.0.1")  # the snippet's 9464 may be taken on this machine
        started.append(out)
        return out

    monkeypatch.setattr(prometheus_client, "start_http_server", on_a_free_port)
    router = fresh_router(server)
    run(blocks("OpenTelemetry")[1], router=router, instrument=_instrument())
    router.invoke("Say hello", config={"metadata": {"user": "carol"}})
    (http_server, thread), = started
    try:
        port = http_server.server_address[1]
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        http_server.shutdown()
        thread.join(5)
    assert "gen_ai_client_token_usage" in text
    assert "gen_ai_client_operation_duration" in text
    assert re.search(r'costrouter_cost[^\n]*costrouter_tenant="carol"', text)


class _Receiver(BaseHTTPRequestHandler):
    bodies: dict[str, list[bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.bodies.setdefault(self.path, []).append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_otlp_recipe_exports_spans_and_metrics_to_a_collector(server: LocalServer) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    bodies: dict[str, list[bytes]] = {}
    handler = type("Receiver", (_Receiver,), {"bodies": bodies})
    collector = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=collector.serve_forever, daemon=True)
    t.start()
    try:
        code = blocks("OpenTelemetry")[2]
        url = f"http://127.0.0.1:{collector.server_address[1]}"
        assert '"http://localhost:4318"' in code
        router = fresh_router(server)
        scope = run(code.replace('"http://localhost:4318"', repr(url)), router=router,
                    instrument=_instrument())
        router.invoke("Say hello", config={"metadata": {"user": "dan"}})
        scope["tracing"].shutdown()
        scope["meters"].shutdown()
    finally:
        collector.shutdown()
        t.join(5)
    traces = ExportTraceServiceRequest()
    traces.ParseFromString(bodies["/v1/traces"][0])
    spans = [s for rs in traces.resource_spans for ss in rs.scope_spans for s in ss.spans]
    call = next(s for s in spans if not s.parent_span_id)
    attrs = {a.key: a.value for a in call.attributes}
    assert attrs["gen_ai.operation.name"].string_value == "chat"
    assert attrs["gen_ai.usage.output_tokens"].int_value > 0
    assert attrs["costrouter.tenant"].string_value == "dan"
    assert len(spans) == 2  # the call and its one attempt
    metrics = ExportMetricsServiceRequest()
    metrics.ParseFromString(bodies["/v1/metrics"][-1])
    names = {m.name for rm in metrics.resource_metrics for sm in rm.scope_metrics
             for m in sm.metrics}
    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration",
            "costrouter.cost"} <= names


def test_agent_middleware_snippet_runs(server: LocalServer) -> None:
    (code,) = blocks("Routing agents: `CostRouterMiddleware`")
    scope = run(code, router=fresh_router(server))
    routes = scope["routes"]
    assert len(routes) == 2  # the tool call, then the answer after the tool result
    assert all(r["level"] and isinstance(r["score"], float) for r in routes)


def _instrument() -> Any:
    from langchain_costrouter.telemetry import instrument

    return instrument
