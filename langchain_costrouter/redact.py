"""The one secret scrubber: every error text, attempt record, event, log line, repr and
identifying parameter that may carry a credential goes through :func:`scrub_text` or
:func:`scrub` before it leaves the package.

It removes:
- bearer tokens and key-shaped strings (``sk-...``, ``key-...``, ``AIza...``, ``ghp_...``);
- the userinfo of URLs (``https://user:secret@host`` -> ``https://[redacted]@host``);
- credential query parameters (``?api_key=...``, ``&token=...``);
- the exact values of every key the package was configured with (:func:`register_secret`),
  whatever their shape.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

REDACTED = "[redacted]"

_SECRET_KEY = re.compile(
    r"(^|[_\-.])(api[_\-]?key|apikey|secret|password|passwd|authorization|auth|headers?|"
    r"credentials?|cookies?|access[_\-]?token|refresh[_\-]?token|session[_\-]?token|"
    r"bearer|token|private[_\-]?key|signature)($|[_\-.])",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"(?:\b(?:sk|pk|rk|xai|gsk|ghp|gho|hf|key)[-_][A-Za-z0-9_\-]{12,})"
    r"|(?:AIza[0-9A-Za-z_\-]{20,})"
    r"|(?:Bearer\s+[A-Za-z0-9._\-~+/=]{8,})",
)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s@]+@")
_QUERY_CREDENTIAL = re.compile(
    r"(?P<key>[?&;](?:api[_\-]?key|apikey|key|token|access[_\-]?token|secret|password|sig|"
    r"signature|auth)=)[^&#\s]+",
    re.IGNORECASE,
)

_lock = threading.Lock()
_known: frozenset[str] = frozenset()
_MIN_SECRET_LEN = 8  # shorter values would redact ordinary words


def register_secret(value: str | None) -> None:
    """Scrub this exact value wherever it appears from now on (configured API keys)."""
    global _known
    if not value or len(value) < _MIN_SECRET_LEN:
        return
    with _lock:
        if value not in _known:
            _known = _known | {value}


def scrub_text(text: str) -> str:
    """``text`` without credentials (see the module docstring)."""
    for secret in _known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _URL_USERINFO.sub(lambda m: m.group("scheme") + REDACTED + "@", text)
    text = _QUERY_CREDENTIAL.sub(lambda m: m.group("key") + REDACTED, text)
    return _SECRET_VALUE.sub(REDACTED, text)


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a credential (``api_key``, ``openai_api_key``, headers ...)."""
    return bool(_SECRET_KEY.search(key))


def scrub(value: Any, _depth: int = 0) -> Any:
    """A JSON-safe copy of ``value`` without credential keys or key-like strings."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if _depth >= 4:
        return REDACTED
    if isinstance(value, (dict, Mapping)):
        return {
            str(k): scrub(v, _depth + 1) for k, v in value.items() if not is_secret_key(str(k))
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub(v, _depth + 1) for v in value]
    return scrub_text(str(value))[:200]
