"""The one place where the purchase service's dependencies are built. Tests call `bootstrap(...)` with
their own settings and, where they want, their own pool, Stripe gateway or mailer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from codex_bus import Outbox
from codex_platform.db import create_pool
from codex_platform.mail import BackgroundMailer, Mailer, mailer_for
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
    async with AsyncExitStack() as stack:
        if pool is None:
            pool = await create_pool(settings.database_url, schema=settings.db_schema)
            stack.push_async_callback(pool.close)
        if stripe is None:
            stripe = StripeGateway(settings)
            stack.push_async_callback(stripe.aclose)
        if mailer is None:
            mailer = mailer_for(
                environment=settings.environment,
                resend_api_key=settings.resend_api_key,
                sender=settings.mail_from,
                folder=Path(settings.mail_folder),
            )
        mail = BackgroundMailer(mailer)
        stack.push_async_callback(mail.aclose)  # receipts in flight go out before the process ends
        yield Deps(settings=settings, pool=pool, stripe=stripe, outbox=Outbox(source="purchase"), mail=mail)
