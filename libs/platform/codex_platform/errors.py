"""The refusals a service's domain may raise, each with its HTTP meaning, and no framework import.

A service's domain.py raises these (or its own subclasses); the service app answers each as RFC 9457
problem details with the class's `status`, so no service writes its own error mapping:

    class ContentNotFound(NotFound): ...
    raise InvalidInput("price_cents", "must be 0 or more")      # 400 naming the field
    raise Conflict("Publish needs a ready asset")                # 409
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "Conflict",
    "DomainError",
    "Gone",
    "InvalidInput",
    "NotAuthenticated",
    "NotFound",
    "NotPermitted",
    "RateLimited",
    "Unavailable",
]


class DomainError(Exception):
    """A rule of the domain was broken; the message is safe to show to the user.

    `status` is the HTTP status it answers with; `problem_type` (a URN) lets a client tell two 400s apart.
    """

    status: ClassVar[int] = 400
    problem_type: ClassVar[str | None] = None

    def headers(self) -> dict[str, str]:
        """Response headers the refusal carries (Retry-After, WWW-Authenticate)."""
        return {}


class InvalidInput(DomainError):
    """A value the caller sent breaks a rule: 400 with `errors: [{field, source, message}]`."""

    def __init__(self, field: str, message: str, *, source: str = "body") -> None:
        super().__init__(message)
        self.field = field
        self.source = source


class NotAuthenticated(DomainError):
    status = 401

    def __init__(self, message: str = "Sign in to continue") -> None:
        super().__init__(message)

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class NotPermitted(DomainError):
    status = 403


class NotFound(DomainError):
    """Also what a caller gets for another user's resource, so that its existence is not revealed."""

    status = 404


class Conflict(DomainError):
    """The request is valid but the resource's current state refuses it."""

    status = 409


class Gone(DomainError):
    status = 410


class RateLimited(DomainError):
    status = 429

    def __init__(self, retry_after_s: int, message: str = "Too many attempts; try again later") -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, self.retry_after_s))}


class Unavailable(DomainError):
    """A dependency is down or saturated; the client should come back after `retry_after_s`."""

    status = 503

    def __init__(self, message: str = "Temporarily unavailable; try again shortly", retry_after_s: int = 5):
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, self.retry_after_s))}
