"""RFC 9457 problem details: the one error shape every Codex HTTP API answers with.

Every error, whether raised by a service (`Problem`), by Litestar itself (404, 405, 413, validation)
or by a bug (any other exception), leaves as ``application/problem+json`` with the request id, so a
client or an operator can match a failure to its log lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    SerializationException,
    ValidationException,
)
from litestar.openapi.datastructures import ResponseSpec

from codex_platform.http.request_id import request_id_of, request_path_of

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Problem types of our own. RFC 9457 only asks for a URI; a URN does not pretend to be a web page.
VALIDATION_ERROR_TYPE = "urn:codex:problem:validation-error"
MALFORMED_BODY_TYPE = "urn:codex:problem:malformed-body"

_RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "request_id"})
_GENERIC_500_DETAIL = "An unexpected error occurred. Quote the request id when reporting it."

_log = structlog.get_logger("codex.http.errors")

# What `problems()` says of a status when the route does not say better.
_DESCRIPTIONS = {
    400: "Invalid request (the `errors` member names the fields) or malformed body",
    401: "Not signed in (a missing, invalid or expired access token)",
    403: "Not allowed",
    404: "No such resource",
    409: "Conflicts with the current state of the resource",
    413: "Request body too large",
    429: "Too many requests; see Retry-After",
    503: "Temporarily unavailable; see Retry-After",
}


class ProblemDetails(msgspec.Struct, omit_defaults=True):
    """The body of every error response (RFC 9457), as documented in OpenAPI."""

    type: str
    title: str
    status: int
    instance: str
    request_id: str
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None


class Problem(HTTPException):
    """An error a service raises on purpose; it becomes a problem-details response as given.

    ``raise Problem(409, detail="This content is already published")`` or
    ``raise Problem(429, detail="Too many attempts", headers={"Retry-After": "30"})``.
    ``extra`` adds members to the body (RFC 9457 extension members); they must not shadow the
    standard ones. Subclassing Litestar's ``HTTPException`` keeps ``raises=[...]`` in OpenAPI working.
    """

    def __init__(
        self,
        status: int,
        title: str | None = None,
        detail: str | None = None,
        *,
        type: str = "about:blank",  # RFC 9457 names the member "type"
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        clashing = _RESERVED_MEMBERS.intersection(extra or {})
        if clashing:
            raise ValueError(f"extra members would shadow standard members: {sorted(clashing)}")
        self.title = title or HTTPStatus(status).phrase
        self.type = type
        self.extension_members: dict[str, Any] = dict(extra or {})
        super().__init__(detail=detail or "", status_code=status, headers=dict(headers) if headers else None)
        self.problem_detail = detail


def problems(*statuses: int, descriptions: Mapping[int, str] | None = None) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem-details answers a route may give: ``responses=problems(400, 404)``.

    ``descriptions`` overrides the platform's wording for some statuses (say what *this* route's
    403 means); a status neither knows is described by its HTTP reason phrase.
    """
    wording = {**_DESCRIPTIONS, **(descriptions or {})}
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            description=wording.get(status) or HTTPStatus(status).phrase,
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in statuses
    }


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    type: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response[bytes]:
    """Build an ``application/problem+json`` response for ``request``."""
    body: dict[str, Any] = {
        "type": type,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "instance": request_path_of(request.scope),
        "request_id": request_id_of(request.scope),
    }
    if detail:
        body["detail"] = detail
    body.update(extra or {})
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers) if headers else None,
    )


def _validation_errors(exc: ValidationException) -> list[dict[str, Any]]:
    errors = exc.extra if isinstance(exc.extra, list) else []
    return [
        {
            "field": str(error.get("key", "")),
            "source": str(getattr(error.get("source"), "value", error.get("source") or "")),
            "message": str(error.get("message", "")),
        }
        for error in errors
        if isinstance(error, dict)
    ]


def handle_undecodable_body(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Registered for ``UnicodeDecodeError`` by create_app: msgspec raises it for invalid UTF-8 inside
    a JSON string, and Litestar turns only msgspec's ``DecodeError`` into a 400, so such a body would
    otherwise be answered 500."""
    return problem_response(
        request,
        400,
        title="Malformed request body",
        detail="The body is not valid UTF-8",
        type=MALFORMED_BODY_TYPE,
    )


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Translate any exception into problem details (registered for ``Exception`` by create_app)."""
    if isinstance(exc, Problem):
        return problem_response(
            request,
            exc.status_code,
            title=exc.title,
            detail=exc.problem_detail,
            type=exc.type,
            headers=exc.headers,
            extra=exc.extension_members,
        )
    if isinstance(exc, ValidationException):
        # Litestar's own detail repeats the URL with its query string, which may carry secrets.
        return problem_response(
            request,
            exc.status_code,
            title="Invalid request",
            detail="The request did not pass validation; see errors.",
            type=VALIDATION_ERROR_TYPE,
            extra={"errors": _validation_errors(exc)},
        )
    if isinstance(exc, ClientException) and isinstance(exc.__cause__, SerializationException):
        return problem_response(
            request, 400, title="Malformed request body", detail=exc.detail, type=MALFORMED_BODY_TYPE
        )
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        headers = dict(exc.headers or {})
        if isinstance(exc, NotAuthorizedException):
            headers.setdefault("WWW-Authenticate", "Bearer")
        phrase = HTTPStatus(exc.status_code).phrase
        detail = exc.detail if exc.detail != phrase else None
        return problem_response(request, exc.status_code, detail=detail, headers=headers)
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    # The exception may carry anything (SQL, URLs with credentials): it goes to the log, bound to
    # the request id, and the client gets a generic message.
    _log.error(
        "unhandled_exception",
        request_id=request_id_of(request.scope),
        error_type=type(exc).__qualname__,
        method=request.method,
        route=request.scope.get("path_template") or "<unmatched>",
        exc_info=exc,
    )
    return problem_response(request, status, detail=_GENERIC_500_DETAIL)
