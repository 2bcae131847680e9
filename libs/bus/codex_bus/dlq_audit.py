"""Audit lines of the operations that change a dead-letter queue (replay, purge).

Each names who ran it (`$CODEX_OPERATOR`, else the OS user), from which host, on which queue,
which message ids and how many moved. Ids go out in chunks as they move, so that a replay of
100,000 dead letters neither holds every id nor writes one enormous line; the last line of an
operation (`dlq.replayed` / `dlq.purged`) carries the totals. Never a body, a header value or a
broker URL: ids, fingerprints and counts only.
"""

from __future__ import annotations

import getpass
import os
import socket
from typing import Any

import structlog

__all__ = ["AuditTrail", "operator"]

_log = structlog.stdlib.get_logger("codex_bus.audit")

# Ids per audit line: a line stays well under common log shippers' limits (36-char ids: ~20 KB).
_IDS_PER_LINE = 500


def operator() -> str:
    """Who runs this: `$CODEX_OPERATOR` (set it where the OS user is shared), else the OS user."""
    named = os.environ.get("CODEX_OPERATOR", "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (some containers)
        return f"uid:{os.getuid()}"


class AuditTrail:
    """The audit of one operation: `moved(id)` per message, then `finish(...)` once."""

    def __init__(self, action: str, queue: str, **selection: Any) -> None:
        self._action = action
        self._common: dict[str, Any] = {
            "operator": operator(),
            "host": socket.gethostname(),
            "queue": queue,
            **{key: value for key, value in selection.items() if value not in (None, (), [], False)},
        }
        self._pending: list[str] = []
        self._chunk = 0
        self.count = 0

    def moved(self, message_id: str) -> None:
        """Record one message that left the queue."""
        self._pending.append(message_id)
        self.count += 1
        if len(self._pending) >= _IDS_PER_LINE:
            self._flush()

    def finish(self, *, error: BaseException | None = None, **totals: Any) -> None:
        """The closing line: how many moved (and the error that cut the operation short, if any)."""
        self._flush()
        fields: dict[str, Any] = {**self._common, "moved": self.count, **totals}
        if error is not None:
            fields["error_type"] = type(error).__name__
            _log.warning(f"dlq.{self._action}_incomplete", **fields)
        else:
            _log.info(f"dlq.{self._action}", **fields)

    def _flush(self) -> None:
        if not self._pending:
            return
        self._chunk += 1
        _log.info(f"dlq.{self._action}_ids", **self._common, chunk=self._chunk, ids=self._pending)
        self._pending = []
