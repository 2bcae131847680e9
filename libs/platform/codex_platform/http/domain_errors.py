"""Every `codex_platform.errors.DomainError` answered as problem details with the error's own status."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from codex_platform.errors import DomainError, InvalidInput
from codex_platform.http.problems import VALIDATION_ERROR_TYPE, Problem, handle_exception


def problem_of(exc: DomainError) -> Problem:
    """The problem details of a domain refusal (400 naming the field for `InvalidInput`)."""
    detail = str(exc)
    if isinstance(exc, InvalidInput):
        error = {"field": exc.field, "source": exc.source, "message": detail}
        return Problem(400, "Invalid request", detail, type=VALIDATION_ERROR_TYPE, extra={"errors": [error]})
    if exc.problem_type is not None:
        return Problem(exc.status, detail=detail, type=exc.problem_type, headers=exc.headers() or None)
    return Problem(exc.status, detail=detail, headers=exc.headers() or None)


def handle_domain_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Registered for `DomainError` by the service app."""
    assert isinstance(exc, DomainError)
    return handle_exception(request, problem_of(exc))
