"""Signing keys: RFC 7638 key ids, sealing with AUTH_SECRET, and what the JWKS shows."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from codex_auth.keys import KeyDecryptionError, KeySealer, PublishedKey, b64url, generate_key, key_id


def test_the_key_id_is_the_rfc_7638_thumbprint() -> None:
    # RFC 8037, appendix A.3: the thumbprint of the example Ed25519 public key.
    public = base64.urlsafe_b64decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
    assert key_id(public) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_a_sealed_key_opens_only_with_its_secret_and_its_kid() -> None:
    key = generate_key()
    sealer = KeySealer("a" * 40)
    sealed = sealer.seal(key.private_raw, key.kid)
    assert key.private_raw not in sealed
    assert sealer.open(sealed, key.kid) == key.private_raw
    with pytest.raises(KeyDecryptionError):
        KeySealer("b" * 40).open(sealed, key.kid)
    with pytest.raises(KeyDecryptionError):
        sealer.open(sealed, generate_key().kid)  # moved to another row
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(KeyDecryptionError):
        sealer.open(tampered, key.kid)


def test_two_seals_of_one_key_differ() -> None:
    key = generate_key()
    sealer = KeySealer("a" * 40)
    assert sealer.seal(key.private_raw, key.kid) != sealer.seal(key.private_raw, key.kid)


def test_the_jwk_is_public_only() -> None:
    key = generate_key()
    jwk = PublishedKey(key.kid, key.public_raw, datetime.now(UTC), None).jwk()
    expected = {"kty": "OKP", "crv": "Ed25519", "x": b64url(key.public_raw), "kid": key.kid}
    assert jwk == {**expected, "alg": "EdDSA", "use": "sig"}
    assert "d" not in jwk
