"""Where the CLI's calls go: the local test server, an OpenAI-compatible URL, or real providers.

``--local-model`` (a llama.cpp child server as the TRIVIAL level) plugs in through
:func:`local_model_patch` and :func:`local_model_server`; both are no-ops until it lands.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_costrouter.catalog import Catalog
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.levels import LEVELS


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
    p.add_argument("--base-url", metavar="URL",
                   help="send every model's calls to this OpenAI-compatible endpoint")
    p.add_argument("--port", type=int, default=0,
                   help="port of the local test server (default: a free one)")
    p.add_argument("--latency-scale", type=float, default=latency_scale,
                   help=f"local server latency x catalog p50 (default {latency_scale})")
    p.add_argument("--catalog", metavar="FILE", help="YAML/JSON catalog overrides")


def keys_present(catalog: Catalog) -> list[str]:
    envs = {s.api_key_env for s in catalog.models.values() if s.api_key_env}
    return sorted(e for e in envs if os.environ.get(e))


def local_model_patch(args: argparse.Namespace) -> Mapping[str, Any] | None:
    """Catalog overrides adding a local model (``--local-model``, issue part 5). None for now."""
    return None


@contextlib.contextmanager
def local_model_server(args: argparse.Namespace) -> Iterator[None]:
    """Runs the local model's child server for the duration of a command. No-op for now."""
    yield


def _only_keyed(catalog: Catalog, keys: list[str]) -> Catalog:
    """The catalog restricted to models whose API key is set; levels keep their order."""
    usable = [n for n, s in catalog.models.items() if s.api_key_env in keys]
    fallback = usable[:1]
    levels = {
        lv.value: [n for n in catalog.candidates(lv) if n in usable] or fallback for lv in LEVELS
    }
    return Catalog.build(
        {"models": [catalog.models[n] for n in usable], "levels": levels}
    )


@contextlib.contextmanager
def open_endpoint(args: argparse.Namespace) -> Iterator[Endpoint]:
    """Start what the arguments ask for and yield the catalog to route over."""
    base = Catalog.from_file(args.catalog) if args.catalog else Catalog.default()
    patch = local_model_patch(args)
    if patch:
        base = base.with_overrides(patch)
    with local_model_server(args):
        keys = keys_present(base)
        if args.base_url:
            check_reachable(args.base_url)
            yield Endpoint(
                base.served_by(args.base_url), "url",
                f"Endpoint: every model served by {args.base_url}",
            )
        elif keys and not args.local:
            yield Endpoint(
                _only_keyed(base, keys), "providers",
                "[bold red]REAL PROVIDERS[/]: API keys found in "
                f"{', '.join(keys)}; these calls cost real money. Use --local for the test server.",
            )
        else:
            from langchain_costrouter.testing.config import ServerConfig
            from langchain_costrouter.testing.server import LocalServer

            config = ServerConfig.from_catalog(base, latency_scale=args.latency_scale)
            with LocalServer(config, port=args.port) as server:
                yield Endpoint(
                    base.served_by(server.base_url), "local",
                    f"[bold]LOCAL TEST SERVER[/] at {server.base_url} (no API keys used; "
                    f"latency x{args.latency_scale} of each model's catalog p50; list prices)",
                )


def check_reachable(base_url: str, timeout_s: float = 3.0) -> None:
    """Fail fast, in one line, when nothing answers at ``base_url``."""
    import httpx

    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"--base-url must start with http:// or https://, got {base_url!r}")
    try:
        httpx.get(base_url.rstrip("/") + "/models", timeout=timeout_s)
    except httpx.HTTPError as e:
        raise ConfigError(
            f"cannot reach endpoint {base_url}: {type(e).__name__}: {e or 'no answer'}"
        ) from None
