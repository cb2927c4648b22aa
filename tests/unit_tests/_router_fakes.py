"""Small fakes shared by the router tests: an injected clock and a provider-shaped error."""

from __future__ import annotations


class Clock:
    """Monotonic seconds that only move when a test moves them."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Boom(Exception):
    """A provider error shaped like the OpenAI SDK's: a status and a JSON error body."""

    def __init__(self, status: int, code: str | None = None) -> None:
        super().__init__(f"HTTP {status} {code or ''}".rstrip())
        self.status_code = status
        self.body = {"error": {"message": f"error {status}", "code": code}}
