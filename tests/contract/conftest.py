"""Fixtures for the contract tests: a private copy of contracts/ that a test may change at will."""

import shutil
from pathlib import Path

import pytest

from codex_contracts.schema import CONTRACTS_ROOT


@pytest.fixture
def contracts_copy(tmp_path: Path) -> Path:
    """A copy of the committed snapshots, asyncapi.json and retired.txt, to run the CLI against."""
    root = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_ROOT / "schemas", root / "schemas")
    for name in ("asyncapi.json", "retired.txt"):
        if (CONTRACTS_ROOT / name).exists():
            shutil.copy2(CONTRACTS_ROOT / name, root / name)
    return root
