"""The bus's modules point one way: producers, consumers, settlement and relays take `Publishing`,
none of them imports the `Bus` (which makes them), so there is no import circle."""

from __future__ import annotations

import ast
from pathlib import Path

import codex_bus

PACKAGE = Path(codex_bus.__file__).parent
TAKE_PUBLISHING = ("consumer", "producer", "settlement", "relay", "publishing", "outbox")


def imported_modules(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_module_that_the_bus_makes_points_back_at_the_bus() -> None:
    for module in TAKE_PUBLISHING:
        assert "codex_bus.bus" not in imported_modules(module), module


def test_the_size_limit_is_measured_in_one_place() -> None:
    measuring = [
        path.stem
        for path in PACKAGE.glob("*.py")
        if "MAX_MESSAGE_BYTES" in path.read_text() and path.stem not in ("__init__", "errors")
    ]
    assert measuring == []
