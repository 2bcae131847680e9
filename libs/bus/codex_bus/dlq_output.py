"""How `codex-dlq` writes tables and JSON, at any terminal width and through a pipe.

Tables: ids and fingerprints (and queue names) are never cut. On a terminal, columns that do not
fit the width drop in each table's documented order (the error text first); text columns wrap
rather than drop while they still have a useful width. Through a pipe there is no colour, no
border and no width limit: one line per row. `-o wide` shows every column, wrapping the long ones.
`-o json` writes one JSON document and `-o jsonl` one JSON object a line; both carry every field
any table shows (and more), so a script never parses a table.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import msgspec
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

__all__ = ["Column", "Output", "age"]

_GAP = 2  # spaces between two columns


@dataclass(frozen=True)
class Column:
    """A table column. `keep` ranks what stays when the width is short (None: never dropped, never
    cut); `wrap` is the narrowest width a wrapping column still gets (0: it does not wrap);
    `wide_only` columns appear with `-o wide` alone."""

    header: str
    keep: int | None = None
    wrap: int = 0
    wide_only: bool = False
    justify: str = "left"


def age(seconds: float | None) -> str:
    """`45s`, `12m`, `5h`, `3d`: an age as kubectl writes one."""
    if seconds is None:
        return "-"
    s = max(int(seconds), 0)
    for unit, size, below in (("s", 1, 120), ("m", 60, 120 * 60), ("h", 3600, 48 * 3600)):
        if s < below:
            return f"{s // size}{unit}"
    return f"{s // 86400}d"


class Output:
    """Where a command writes: `fmt` is table, wide, json or jsonl."""

    def __init__(self, fmt: str = "table", stream: TextIO | None = None) -> None:
        self.fmt = fmt
        self.stream = stream or sys.stdout
        self.terminal = self.stream.isatty()
        self.console = Console(file=self.stream, highlight=False, soft_wrap=False)

    @property
    def machine(self) -> bool:
        return self.fmt in ("json", "jsonl")

    def document(self, value: Any) -> None:
        """One JSON document (`-o json`, and `show`)."""
        self.stream.write(msgspec.json.format(msgspec.json.encode(value), indent=2).decode() + "\n")

    def lines(self, values: Iterable[Any]) -> None:
        """One JSON object a line (`-o jsonl`)."""
        for value in values:
            self.stream.write(msgspec.json.encode(value).decode() + "\n")

    def records(self, envelope: dict[str, Any], items: Sequence[dict[str, Any]]) -> None:
        """`-o json`: the envelope with `items`; `-o jsonl`: the items alone, a line each."""
        if self.fmt == "jsonl":
            self.lines(items)
        else:
            self.document({**envelope, "items": list(items)})

    def note(self, text: str) -> None:
        """A human line under a table (never in JSON output, where the envelope says it)."""
        if not self.machine:
            self.stream.write(text + "\n")

    def table(self, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
        """Rows under `columns`, fitted to the terminal (see the module's docstring)."""
        wide = self.fmt == "wide"
        shown = [i for i, c in enumerate(columns) if wide or not c.wide_only]
        widths = {i: max([cell_len(columns[i].header), *(cell_len(r[i]) for r in rows)]) for i in shown}
        if not self.terminal:
            self._plain(
                [columns[i] for i in shown], [[r[i] for i in shown] for r in rows], [widths[i] for i in shown]
            )
            return
        limit = self.console.width
        if not wide:
            shown = _fit(columns, shown, widths, limit)
        table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold", show_edge=False)
        spare = limit - sum(widths[i] for i in shown if not columns[i].wrap) - _GAP * (len(shown) - 1)
        wrapping = [i for i in shown if columns[i].wrap]
        for i in shown:
            column = columns[i]
            if column.wrap:
                share = max(spare // max(len(wrapping), 1), column.wrap)
                width = min(widths[i], share)
                table.add_column(column.header, width=width, overflow="fold", justify=column.justify)  # type: ignore[arg-type]
            else:
                table.add_column(column.header, no_wrap=True, min_width=widths[i], justify=column.justify)  # type: ignore[arg-type]
        for row in rows:
            table.add_row(*(row[i] for i in shown))
        self.console.print(table, width=max(limit, sum(widths[i] for i in shown)))

    def _plain(self, columns: Sequence[Column], rows: Sequence[Sequence[str]], widths: Sequence[int]) -> None:
        for cells in ([c.header for c in columns], *rows):
            padded = [
                cell.rjust(width) if column.justify == "right" else cell.ljust(width)
                for cell, width, column in zip(cells, widths, columns, strict=True)
            ]
            self.stream.write((" " * _GAP).join(padded).rstrip() + "\n")


def _fit(columns: Sequence[Column], shown: list[int], widths: dict[int, int], limit: int) -> list[int]:
    """The columns that fit `limit`: the essential ones, then the others by their `keep` rank."""
    chosen = [i for i in shown if columns[i].keep is None]
    used = sum(widths[i] for i in chosen) + _GAP * (len(chosen) - 1)
    for i in sorted((i for i in shown if columns[i].keep is not None), key=lambda i: columns[i].keep or 0):
        need = min(widths[i], columns[i].wrap) if columns[i].wrap else widths[i]
        if used + _GAP + need <= limit:
            chosen.append(i)
            used += _GAP + need
    return [i for i in shown if i in chosen]
