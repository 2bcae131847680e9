"""The auth service: accounts, sessions, EdDSA access tokens and their JWKS, roles."""
