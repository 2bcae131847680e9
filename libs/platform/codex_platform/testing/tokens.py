"""Access tokens for tests of services that verify auth's tokens: a real JWKS server and a signer.

```python
def test_only_creators_upload(token_issuer):
    settings = UploadSettings(jwks_url=token_issuer.jwks_url, ...)
    creator = token_issuer.token(role="creator")          # a fresh user id each call unless given
    client.post("/uploads", headers=bearer(creator), ...)
```
The tokens carry the claims auth issues (sub, role, sid, iss, aud, iat, exp), signed EdDSA with a
key published at `jwks_url` exactly as auth publishes it, so the service's JwtVerifier is exercised.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

__all__ = ["TokenIssuer", "bearer", "token_issuer"]

ISSUER = "urn:codex:auth"
AUDIENCE = "codex"


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}


@dataclass
class TokenIssuer:
    """Signs tokens as auth does; `jwks_url` serves the public key."""

    jwks_url: str = ""
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    private: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    issuer: str = ISSUER
    audience: str = AUDIENCE

    @property
    def jwks(self) -> dict[str, Any]:
        public: dict[str, Any] = OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "EdDSA"}]}

    def token(
        self, *, user_id: str | None = None, role: str = "customer", ttl_s: int = 900, **claims: Any
    ) -> str:
        """A valid access token for `user_id` (a new UUID when None) with `role`."""
        now = int(time.time())
        body = {
            "sub": user_id or str(uuid.uuid4()),
            "role": role,
            "sid": str(uuid.uuid4()),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + ttl_s,
            **claims,
        }
        return jwt.encode(body, self.private, algorithm="EdDSA", headers={"kid": self.kid})

    def user_of(self, token: str) -> str:
        """The user id (`sub`) a token was made for."""
        return str(jwt.decode(token, options={"verify_signature": False})["sub"])


@pytest.fixture(scope="session")
def token_issuer() -> Iterator[TokenIssuer]:
    """One signing key for the session, its JWKS served on a free local port."""
    issuer = TokenIssuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(issuer.jwks).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    issuer.jwks_url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
