"""Refusals a person can act on: every problem with its key, a code and a sentence."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: where (key), what (code), and a sentence for a person."""

    key: str
    code: str
    message: str


class InvalidInput(Exception):
    """A request refused as a whole (nothing was changed), listing every problem found."""

    def __init__(self, problems: Iterable[Problem], message: str = "") -> None:
        self.problems = list(problems)
        self.message = message or _summary(self.problems)
        super().__init__(self.message)


def _summary(problems: list[Problem]) -> str:
    if len(problems) == 1:
        return problems[0].message
    if not problems:
        return "Invalid input."
    keys = ", ".join(dict.fromkeys(p.key for p in problems))
    return f"{len(problems)} problems ({keys}); each is listed under errors."


class AuthenticationFailed(Exception):
    """Missing or wrong credentials (plugin key, session token, member hash, API key)."""

    def __init__(self, message: str, code: str = "authentication_failed") -> None:
        self.message = message
        self.code = code
        super().__init__(message)


class RateLimited(Exception):
    """Too many requests in the current window; retry after RETRY_AFTER seconds."""

    def __init__(self, retry_after: int, message: str = "") -> None:
        self.retry_after = retry_after
        super().__init__(message or f"Too many requests; retry in {retry_after} s.")


class Conflict(Exception):
    """The request clashes with the current state (a duplicate name, a stale confirmation)."""

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        self.message = message
        self.problems = list(problems)
        super().__init__(message)


class PayloadTooLarge(Exception):
    """A request body longer than the server reads (answered as 413 payload_too_large)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.message = f"The body is longer than {limit:,} bytes, the most a request may send."
        super().__init__(self.message)


class PlanRequired(Exception):
    """The channel's plan does not include this feature (answered as 403 plan_required)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)
