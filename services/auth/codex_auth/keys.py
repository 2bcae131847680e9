"""Ed25519 signing keys: generated here, sealed with AUTH_SECRET before they touch the database.

A row in the database alone cannot sign a token: the private key is stored AES-256-GCM encrypted
under a key derived from AUTH_SECRET (HKDF-SHA256), with the key id as associated data so that a
sealed key cannot be moved to another row.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12
_HKDF_INFO = b"codex-auth signing-key encryption v1"


class KeyDecryptionError(Exception):
    """A sealed key did not open: AUTH_SECRET is not the one it was sealed with, or it was altered."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public_raw: bytes) -> dict[str, str]:
    """The JWK of an Ed25519 public key (RFC 8037), without kid."""
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(public_raw)}


def key_id(public_raw: bytes) -> str:
    """The RFC 7638 thumbprint of the public JWK: a kid that anyone can recompute from the key."""
    canonical = json.dumps(public_jwk(public_raw), sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


class KeySealer:
    """Seals and opens private keys with a key derived from AUTH_SECRET."""

    def __init__(self, auth_secret: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
        self._aead = AESGCM(derived.derive(auth_secret.encode()))

    def seal(self, private_raw: bytes, kid: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, private_raw, kid.encode())

    def open(self, sealed: bytes, kid: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], kid.encode())
        except InvalidTag:
            raise KeyDecryptionError(f"signing key {kid} does not open with this AUTH_SECRET") from None


@dataclass(frozen=True, slots=True)
class NewKey:
    kid: str
    public_raw: bytes
    private_raw: bytes


def generate_key() -> NewKey:
    private = Ed25519PrivateKey.generate()
    private_raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public_raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return NewKey(kid=key_id(public_raw), public_raw=public_raw, private_raw=private_raw)


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """A key as the JWKS shows it: the current one, or one retired within the grace period."""

    kid: str
    public_raw: bytes
    created_at: datetime
    retired_at: datetime | None

    def jwk(self) -> dict[str, Any]:
        return {**public_jwk(self.public_raw), "kid": self.kid, "alg": "EdDSA", "use": "sig"}

    def public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_raw)


@dataclass(frozen=True, slots=True)
class CurrentKey:
    kid: str
    private_key: Ed25519PrivateKey
