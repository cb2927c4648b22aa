"""What a budget is: a limit in tokens or USD, over a window, per scope.

A guard holds several budgets at once, e.g. 10M tokens a day *and* 2M tokens an hour *and*
$50 a month per team. Scopes come from the call's ``config["metadata"]`` (``user``, ``team``,
``api_key``); an API key is kept only as an (unsalted) SHA-256 prefix, never raw.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from langchain_costrouter.budget.ledger import usd_to_nano
from langchain_costrouter.budget.windows import Period, Window
from langchain_costrouter.exceptions import ConfigError

Unit = Literal["tokens", "usd"]
ScopeKind = Literal["global", "user", "team", "api_key"]
SCOPE_KINDS: tuple[str, ...] = ("global", "user", "team", "api_key")
ANONYMOUS = "anonymous"
"""Scope value of calls whose metadata lacks the scope's key: they share one budget."""


def hash_api_key(key: str) -> str:
    """The only form in which an API key is stored, shown or used as a scope."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:24]


def scope_value(kind: str, raw: Any) -> str:
    """Scope id of a metadata value: API keys hashed, control characters refused."""
    if raw is None or raw == "":
        return ANONYMOUS
    text = str(raw)
    if kind == "api_key":
        return text if text.startswith("sha256:") else hash_api_key(text)
    if any(ch in text for ch in "|\n\r\t\0"):
        raise ConfigError(f"{kind} scope {text!r} contains a '|' or control character")
    return text


def scopes_of(metadata: Mapping[str, Any] | None) -> dict[str, str]:
    """Scope ids of a call from its metadata, e.g. ``{"global": "*", "user": "alice"}``."""
    md = metadata or {}
    out = {"global": "*"}
    for kind in SCOPE_KINDS[1:]:
        out[kind] = scope_value(kind, md.get(kind))
    return out


@dataclass(frozen=True)
class Budget:
    """A limit over a window for one scope kind, with per-scope overrides.

    >>> Budget.tokens(10_000_000, per="day")
    >>> Budget.usd("5", per="month", scope="user", overrides={"alice": "20"})
    """

    limit: int | Decimal
    """Default limit of every scope: tokens (int) or USD (Decimal)."""
    unit: Unit = "tokens"
    window: Window = field(default_factory=Window)
    scope: ScopeKind = "global"
    overrides: Mapping[str, int | Decimal] = field(default_factory=dict)
    """Limits of particular scope values (API keys may be given raw: they are hashed here)."""
    name: str = ""
    """Unique within a guard; defaults to e.g. ``tokens/day`` or ``usd/hour-rolling/user``."""

    def __post_init__(self) -> None:
        if self.unit not in ("tokens", "usd"):
            raise ConfigError(f"budget unit must be 'tokens' or 'usd', got {self.unit!r}")
        if self.scope not in SCOPE_KINDS:
            raise ConfigError(f"budget scope must be one of {SCOPE_KINDS}, got {self.scope!r}")
        object.__setattr__(self, "limit", self._check(self.limit, "limit"))
        fixed = {
            scope_value(self.scope, k): self._check(v, f"override {k!r}")
            for k, v in self.overrides.items()
        }
        object.__setattr__(self, "overrides", fixed)
        if not self.name:
            parts = [self.unit, self.window.period + ("-rolling" if self.window.rolling else "")]
            if self.window.tz != "UTC" and not self.window.rolling:
                parts[-1] += f"@{self.window.tz}"
            if self.scope != "global":
                parts.append(self.scope)
            object.__setattr__(self, "name", "/".join(parts))
        if "|" in self.name:
            raise ConfigError(f"budget name {self.name!r} must not contain '|'")

    def _check(self, v: Any, what: str) -> int | Decimal:
        if isinstance(v, bool):
            raise ConfigError(f"budget {what} must be a number, got {v!r}")
        try:
            exact = Decimal(str(v))
        except Exception:
            raise ConfigError(f"budget {what} must be a number, got {v!r}") from None
        if not exact.is_finite():
            raise ConfigError(f"budget {what} must be a finite number, got {v!r}")
        value: int | Decimal = exact if self.unit == "usd" else int(exact)
        if self.unit == "tokens" and exact != value:
            raise ConfigError(f"token budget {what} must be a whole number, got {v!r}")
        if value < 0:
            raise ConfigError(f"budget {what} must be >= 0, got {v!r}")
        return value

    @classmethod
    def tokens(
        cls,
        limit: int,
        *,
        per: Period = "day",
        rolling: bool = False,
        tz: str = "UTC",
        scope: ScopeKind = "global",
        overrides: Mapping[str, int] | None = None,
        name: str = "",
    ) -> Budget:
        return cls(limit, "tokens", Window(per, rolling, tz), scope, dict(overrides or {}), name)

    @classmethod
    def usd(
        cls,
        limit: Decimal | str | int,
        *,
        per: Period = "day",
        rolling: bool = False,
        tz: str = "UTC",
        scope: ScopeKind = "global",
        overrides: Mapping[str, Decimal | str | int] | None = None,
        name: str = "",
    ) -> Budget:
        return cls(limit, "usd", Window(per, rolling, tz), scope, dict(overrides or {}), name)

    def limit_for(self, scope_id: str) -> int | Decimal:
        return self.overrides.get(scope_id, self.limit)

    def ledger_limit(self, scope_id: str) -> int:
        """The limit as the ledger's integer (tokens or nano-dollars)."""
        v = self.limit_for(scope_id)
        return usd_to_nano(v, limit=True) if self.unit == "usd" else int(v)

    def counter(self, scope_id: str) -> str:
        """Ledger counter key: ``<name>|<window>|<scope kind>:<scope id>``."""
        return f"{self.name}|{self.window.key}|{self.scope}:{scope_id}"
