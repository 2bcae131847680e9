"""Codex GPU worker."""
