"""The Codex journey, driven over HTTP as a frontend would: `make demo` runs it against `make dev`, and
tests/e2e/test_journey.py against services it starts itself."""
