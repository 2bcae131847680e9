"""The HTTP layer every Codex service shares: app factory, problem details, request ids, JWT auth."""

from codex_platform.http.app import DEFAULT_MAX_BODY_BYTES, create_app
from codex_platform.http.auth import (
    BEARER_SCHEME_NAME,
    BEARER_SECURITY,
    CurrentPrincipal,
    authenticate,
    require_role,
    require_roles,
    requires_auth,
)
from codex_platform.http.health import ReadinessCheck
from codex_platform.http.jwks import JwksUnavailable
from codex_platform.http.jwt_verifier import (
    JwtVerifier,
    Principal,
    TokenRejected,
    VerificationKey,
    verify_with_keys,
)
from codex_platform.http.observe import SENSITIVE_PATH_OPT
from codex_platform.http.problems import PROBLEM_MEDIA_TYPE, Problem, ProblemDetails, problems
from codex_platform.http.request_id import REQUEST_ID_HEADER, request_id_of

__all__ = [
    "BEARER_SCHEME_NAME",
    "BEARER_SECURITY",
    "DEFAULT_MAX_BODY_BYTES",
    "PROBLEM_MEDIA_TYPE",
    "REQUEST_ID_HEADER",
    "SENSITIVE_PATH_OPT",
    "CurrentPrincipal",
    "JwksUnavailable",
    "JwtVerifier",
    "Principal",
    "Problem",
    "ProblemDetails",
    "ReadinessCheck",
    "TokenRejected",
    "VerificationKey",
    "authenticate",
    "create_app",
    "problems",
    "request_id_of",
    "require_role",
    "require_roles",
    "requires_auth",
    "verify_with_keys",
]
