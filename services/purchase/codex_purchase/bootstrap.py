"""The one place where the purchase service's dependencies are built. Tests call `bootstrap(...)` with
their own settings and, where they want, their own pool, Stripe gateway or mailer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import Any

import asyncpg

from codex_bus import Outbox
from codex_platform.mail import Mailer
from codex_platform.service import Resources
from codex_purchase.deps import Deps
from codex_purchase.gateway import StripeGateway
from codex_purchase.settings import PurchaseSettings


@asynccontextmanager
async def bootstrap(
    settings: PurchaseSettings,
    *,
    pool: asyncpg.Pool[Any] | None = None,
    stripe: StripeGateway | None = None,
    mailer: Mailer | None = None,
) -> AsyncIterator[Deps]:
    """Build the dependencies, yield them, and close what this call opened."""
    async with Resources(settings) as opened:
        if stripe is None:
            stripe = await opened.enter(None, aclosing(StripeGateway(settings)))
        yield Deps(
            settings=settings,
            pool=await opened.pool(pool),
            stripe=stripe,
            outbox=Outbox(source=settings.service),
            mail=await opened.mail(mailer),  # receipts in flight go out before the process ends
        )
