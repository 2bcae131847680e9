"""The transactional outbox: events written in the same transaction as the change they report.

```python
outbox = Outbox(source="upload")
async with pool.acquire() as conn, conn.transaction():
    await conn.execute("UPDATE uploads SET state = 'completed' WHERE id = $1", upload_id)
    await outbox.add(conn, UploadCompletedV1(...))
```
Either both commit or neither does; `OutboxRelay` then publishes committed rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from codex_bus._pg import PgConnection
from codex_bus.errors import check_delay, encode_checked
from codex_contracts import Envelope, Event, new_envelope

__all__ = ["Outbox"]

_INSERT = """
INSERT INTO outbox (message_id, event_type, body, work_queue, delay_seconds)
SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::integer[])
"""


class Outbox:
    """Writes events to the `outbox` table of the connection's schema (see the "bus" migration).

    `source` is the CloudEvents source (the service); `queue` sends to a work queue instead of
    the events exchange.
    """

    def __init__(self, *, source: str, queue: str | None = None) -> None:
        self.source = source
        self.queue = queue

    async def add(
        self,
        conn: PgConnection,
        event: Event,
        *,
        delay_seconds: int = 0,
        causation: Envelope | None = None,
        correlation_id: str | None = None,
    ) -> Envelope:
        """Add one event inside the caller's open transaction; returns its envelope."""
        envelope = new_envelope(event, source=self.source, causation=causation, correlation_id=correlation_id)
        await self.add_envelopes(conn, [envelope], delay_seconds=delay_seconds)
        return envelope

    async def add_batch(
        self,
        conn: PgConnection,
        events: Sequence[Event],
        *,
        delay_seconds: int = 0,
        causation: Envelope | None = None,
        correlation_id: str | None = None,
    ) -> list[Envelope]:
        """Add several events in one statement, inside the caller's open transaction."""
        envelopes = [
            new_envelope(e, source=self.source, causation=causation, correlation_id=correlation_id)
            for e in events
        ]
        await self.add_envelopes(conn, envelopes, delay_seconds=delay_seconds)
        return envelopes

    async def add_envelopes(
        self, conn: PgConnection, envelopes: Sequence[Envelope], *, delay_seconds: int = 0
    ) -> None:
        """Add envelopes built elsewhere; raises `MessageTooLarge` before writing anything."""
        if not conn.is_in_transaction():
            raise RuntimeError(
                "Outbox.add needs the caller's transaction (`async with conn.transaction():`), "
                "so that the event commits with the change it reports"
            )
        check_delay(delay_seconds)
        bodies = [encode_checked(e) for e in envelopes]
        count = len(envelopes)
        await conn.execute(
            _INSERT,
            [e.id for e in envelopes],
            [e.type for e in envelopes],
            bodies,
            [self.queue] * count,
            [delay_seconds] * count,
        )
