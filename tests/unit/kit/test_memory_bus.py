"""The in-memory bus: a handler that sends events, delivered in process with no broker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from codex_bus import MemoryBus, Message, on
from codex_contracts.events import AssetFailedV1, UploadCompletedV1

NOW = datetime(2026, 12, 2, tzinfo=UTC)


@dataclass
class Deps:
    outbox: Any
    seen: list[str]


def upload(upload_id: str) -> UploadCompletedV1:
    return UploadCompletedV1(
        upload_id=upload_id,
        owner_id="u1",
        bucket="b",
        key=f"videos/original/{upload_id}.mp4",
        filename="a.mp4",
        content_type="video/mp4",
        size_bytes=10,
        etag="e",
        completed_at=NOW,
    )


async def refuse_upload(message: Message[UploadCompletedV1], *, deps: Deps) -> None:
    """Sends a failure event for each upload it sees (a handler that sends)."""
    deps.seen.append(message.body.upload_id)
    failed = AssetFailedV1(
        asset_id=f"asset-{message.body.upload_id}",
        upload_id=message.body.upload_id,
        owner_id=message.body.owner_id,
        error_code="NOT_A_VIDEO",
        error_message="no",
        retryable=False,
        failed_at=NOW,
    )
    await deps.outbox.add(None, failed, causation=message.envelope)


async def always_fails(message: Message[AssetFailedV1], *, deps: Deps) -> None:
    raise RuntimeError(f"cannot record {message.body.asset_id}")


async def test_events_a_handler_sends_are_recorded_and_delivered() -> None:
    bus = MemoryBus([on(UploadCompletedV1, refuse_upload), on(AssetFailedV1, always_fails)], max_retries=2)
    deps = Deps(outbox=bus.outbox(source="media-dispatch"), seen=[])
    bus.start(deps)

    sent = await bus.send(upload("up-1"))
    await bus.drain()

    assert deps.seen == ["up-1"]
    assert bus.sent_types() == ["upload.completed.v1", "media.asset.failed.v1"]
    failed = bus.sent[1]
    assert failed.source == "media-dispatch"
    assert failed.causation_id == sent.id
    outcomes = [(o.event_type, o.attempts, o.outcome) for o in bus.outcomes]
    assert outcomes == [
        ("upload.completed.v1", 1, "acked"),
        ("media.asset.failed.v1", 1, "retried"),
        ("media.asset.failed.v1", 2, "retried"),
        ("media.asset.failed.v1", 3, "dead-lettered"),
    ]
    assert isinstance(bus.outcomes[-1].error, RuntimeError)


async def test_an_event_nobody_subscribes_to_is_recorded_not_delivered() -> None:
    bus = MemoryBus([on(AssetFailedV1, always_fails)])
    bus.start(Deps(outbox=None, seen=[]))
    await bus.send(upload("up-2"))
    await bus.drain()
    assert bus.sent_types() == ["upload.completed.v1"]
    assert bus.outcomes == []
