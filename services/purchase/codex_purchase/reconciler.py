"""The worker's reconciler: what webhooks did not settle is settled from Stripe's state. A stored event
that was not applied (Stripe was unreachable) is applied again; a purchase still pending after
`reconcile_after_s` (a webhook lost, late, or an endpoint misconfigured) is settled from its
PaymentIntent, so a customer who paid is never left without access; a pending purchase that never got
an intent (Stripe refused or was down, and the customer left) is canceled, and one still unpaid after
`abandon_after_s` has its intent canceled at Stripe (then settles as canceled, or as completed if the
customer paid at the last moment)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from codex_purchase.deps import Deps
from codex_purchase.repository import Repository
from codex_purchase.settlement import settle_intent
from codex_purchase.webhooks import apply_event

__all__ = ["background_tasks", "reconcile_once"]

_log = structlog.stdlib.get_logger("codex_purchase.reconciler")


async def reconcile_once(deps: Deps) -> int:
    """One pass; returns how many events and purchases it looked at."""
    settings = deps.settings
    async with deps.pool.acquire() as conn:
        repo = Repository(conn)
        events = await repo.unprocessed_events(settings.event_retry_after_s)
        stale = await repo.stale_pending(settings.reconcile_after_s)
    for event_id, intent_id in events:
        await apply_event(deps, event_id, intent_id)
    for purchase in stale:
        try:
            if purchase.payment_intent_id is None:
                async with deps.pool.acquire() as conn:
                    await conn.execute(
                        "UPDATE purchases SET status = 'canceled', updated_at = now()"
                        " WHERE id = $1 AND status = 'pending' AND payment_intent_id IS NULL",
                        purchase.id,
                    )
            else:
                age = (datetime.now(UTC) - purchase.created_at).total_seconds()
                if age > settings.abandon_after_s:
                    await deps.stripe.cancel_intent(purchase.payment_intent_id)
                await settle_intent(deps, purchase.payment_intent_id)
        except Exception as exc:
            _log.warning("reconcile_failed", purchase_id=str(purchase.id), error_type=type(exc).__name__)
    if events or stale:
        _log.info("reconciled", events=len(events), purchases=len(stale))
    return len(events) + len(stale)


async def reconcile_forever(deps: Deps) -> None:
    while True:
        try:
            await reconcile_once(deps)
        except Exception as exc:  # the database was away: the next pass tries again
            _log.warning("reconcile_pass_failed", error_type=type(exc).__name__, error=str(exc)[:200])
        await asyncio.sleep(deps.settings.reconcile_interval_s)


def background_tasks(deps: Deps) -> Mapping[str, Callable[[], Coroutine[Any, Any, None]]]:
    """The worker's own loops (codex_bus.service_worker runs them beside the relay and consumer)."""
    return {"reconciler": lambda: reconcile_forever(deps)}
