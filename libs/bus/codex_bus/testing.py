"""Handlers without a broker: build a batch in memory, call the handler, read the verdicts.

```python
batch = make_batch([UploadCompletedV1(...)])
await handle_upload(batch)
assert outcomes(batch) == ["ack"]
```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from codex_bus.message import Message, MessageBatch
from codex_contracts import Event, new_envelope

__all__ = ["make_batch", "outcomes"]

E = TypeVar("E", bound=Event)


def make_batch(
    events: Sequence[E], *, queue: str = "test", attempts: int = 1, source: str = "test"
) -> MessageBatch[E]:
    """A batch of `events` as a consumer would hand it to a handler."""
    messages = [Message(new_envelope(e, source=source), e, attempts=attempts) for e in events]
    return MessageBatch(queue, messages)


def outcomes(batch: MessageBatch[E], raised: BaseException | None = None) -> list[str]:
    """Each message's settlement once the handler returned (or raised `raised`): "ack", "retry"
    or "retry:<delay>" when the handler named a delay."""
    result = []
    for _, verdict in batch.resolve(raised):
        if not verdict.retry:
            result.append("ack")
        elif verdict.delay_seconds is None:
            result.append("retry")
        else:
            result.append(f"retry:{verdict.delay_seconds}")
    return result
