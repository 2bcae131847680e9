"""Pytest plugin of the Codex platform: service fixtures (filled in shortly)."""
