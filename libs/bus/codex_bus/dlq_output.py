"""How `codex-dlq` writes tables and JSON, at any terminal width and through a pipe.

Tables: ids and fingerprints (and queue names) are never cut. On a terminal, columns that do not
fit the width drop in each table's documented order (the error text first); text columns wrap
rather than drop while they still have a useful width. Through a pipe there is no colour, no
border and no width limit: one line per row. `-o wide` shows every column, wrapping the long ones.
`-o json` writes one JSON document and `-o jsonl` one JSON object a line; both carry every field
any table shows (and more), so a script never parses a table.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TextIO

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

    def __init__(
        self,
        fmt: str = "table",
        stream: TextIO | None = None,
        *,
        errors: TextIO | None = None,
        width: int | None = None,
    ) -> None:
        self.fmt = fmt
        self.stream = stream or sys.stdout
        self.terminal = self.stream.isatty()
        self.console = Console(file=self.stream, highlight=False, soft_wrap=False, width=width)
        # Errors and progress: never markup (a message may hold brackets), never a wrapped id.
        self.errors = Console(file=errors or sys.stderr, highlight=False, markup=False, soft_wrap=True)

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

    def error(self, text: str) -> None:
        """A line on standard error."""
        self.errors.print(text)

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
            picked = [columns[i] for i in shown]
            self._plain(picked, [[r[i] for i in shown] for r in rows], [widths[i] for i in shown])
            return
        limit = self.console.width
        if wide and sum(widths.values()) + _GAP * (len(shown) - 1) > limit:
            self._blocks([columns[i] for i in shown], [[r[i] for i in shown] for r in rows], limit)
            return
        if not wide:
            fitted = _fit(columns, shown, widths, limit)
            hidden = [columns[i].header for i in shown if i not in fitted]
            shown = fitted
        sizes = _allocate(columns, shown, widths, limit)
        table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold", show_edge=False)
        for i in shown:
            justify: Literal["left", "right"] = "right" if columns[i].justify == "right" else "left"
            table.add_column(
                columns[i].header, width=sizes[i], no_wrap=True, overflow="fold", justify=justify
            )
        for row in rows:
            table.add_row(*(_wrap(row[i], sizes[i]) if columns[i].wrap else row[i] for i in shown))
        # Never narrower than the columns: a terminal too narrow for the ids folds the line
        # itself, rather than rich cutting an id.
        total = sum(sizes.values()) + _GAP * (len(shown) - 1)
        self.console.width = max(limit, total)  # rich would shrink (cut) columns to its width
        try:
            self.console.print(table, crop=False)
        finally:
            self.console.width = limit
        if not wide and hidden:
            self.note(f"({', '.join(hidden)} hidden at {limit} columns: -o wide shows every column)")

    def _blocks(self, columns: Sequence[Column], rows: Sequence[Sequence[str]], limit: int) -> None:
        """Every column of each row as `FIELD  value` lines (psql's expanded display), for `-o wide`
        when the table would not fit."""
        label = max(cell_len(c.header) for c in columns)
        room = max(limit - label - _GAP, 20)
        for n, row in enumerate(rows):
            if n:
                self.stream.write("\n")
            for column, cell in zip(columns, row, strict=True):
                value = _wrap(cell, room) if column.wrap else cell  # ids and fingerprints stay whole
                lines = value.split("\n") or [""]
                self.stream.write(f"{column.header.ljust(label)}{' ' * _GAP}{lines[0]}\n")
                for more in lines[1:]:
                    self.stream.write(f"{' ' * (label + _GAP)}{more}\n")

    def _plain(self, columns: Sequence[Column], rows: Sequence[Sequence[str]], widths: Sequence[int]) -> None:
        for cells in ([c.header for c in columns], *rows):
            padded = [
                cell.rjust(width) if column.justify == "right" else cell.ljust(width)
                for cell, width, column in zip(cells, widths, columns, strict=True)
            ]
            self.stream.write((" " * _GAP).join(padded).rstrip() + "\n")


def _wrap(text: str, width: int) -> str:
    """`text` in lines of at most `width`, broken after dots, slashes, colons and at spaces (so that
    `catalog.content.archived.v1` breaks as `catalog.content.` + `archived.v1`), a word longer
    than a line folded."""
    lines: list[str] = []
    line = ""
    for token in _BREAKS.findall(text):
        if cell_len(line) + cell_len(token.rstrip()) <= width:
            line += token
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = token.lstrip()
        while cell_len(line.rstrip()) > width:
            lines.append(line[:width])
            line = line[width:]
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


# A token ends after a dot, slash, colon or comma, or at spaces; a version (`.v1`) stays with the
# word before it, so that `purchase.completed.v1` breaks as `purchase.` + `completed.v1`.
_BREAKS = re.compile(r"[^\s./:,]+(?:\.v\d+\b)?[./:,]?\s*|[./:,]\s*|\s+")


def _allocate(
    columns: Sequence[Column], shown: list[int], widths: dict[int, int], limit: int
) -> dict[int, int]:
    """Widths: each fixed column its content; the wrapping ones share what is left, the narrowest
    first (each gets at most its content, at least its `wrap`)."""
    sizes = {i: widths[i] for i in shown}
    wrapping = sorted((i for i in shown if columns[i].wrap), key=lambda i: widths[i])
    spare = limit - sum(widths[i] for i in shown if not columns[i].wrap) - _GAP * (len(shown) - 1)
    for n, i in enumerate(wrapping):
        share = spare // (len(wrapping) - n)
        sizes[i] = max(min(widths[i], share), min(columns[i].wrap, widths[i]))
        spare -= sizes[i]
    return sizes


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
