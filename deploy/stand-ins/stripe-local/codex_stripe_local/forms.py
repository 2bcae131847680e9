"""Stripe's request encoding: `application/x-www-form-urlencoded` with bracket notation for nested
values (`metadata[purchase_id]=...`, `expand[0]=latest_charge`), as the SDK writes it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["FormError", "decode_form"]

_PART = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """A parameter name that does not parse (`a[b`, `a]`)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Invalid parameter name: {name}")
        self.param = name


def _path(name: str) -> list[str]:
    head, bracket, rest = name.partition("[")
    if not head or "]" in head:
        raise FormError(name)
    parts = [head]
    if bracket:
        rest = "[" + rest
        position = 0
        for match in _PART.finditer(rest):
            if match.start() != position:
                raise FormError(name)
            parts.append(match.group(1))
            position = match.end()
        if position != len(rest):
            raise FormError(name)
    return parts


def _listify(value: Any) -> Any:
    """Dicts keyed 0..n-1 (or by `[]`) are lists, as in Stripe's encoding of arrays."""
    if not isinstance(value, dict):
        return value
    items = {k: _listify(v) for k, v in value.items()}
    keys = list(items)
    if keys and all(k.isdigit() for k in keys):
        return [items[k] for k in sorted(keys, key=int)]
    return items


def decode_form(body: bytes | str) -> dict[str, Any]:
    """The nested parameters of a form body or query string (values stay strings)."""
    text = body.decode() if isinstance(body, bytes) else body
    root: dict[str, Any] = {}
    appended = 0
    for name, value in parse_qsl(text, keep_blank_values=True):
        parts = _path(name)
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise FormError(name)
            node = child
        last = parts[-1]
        if last == "":
            last = str(appended)
            appended += 1
        node[last] = value
    return {k: _listify(v) for k, v in root.items()}
