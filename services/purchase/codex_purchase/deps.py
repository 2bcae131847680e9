"""What the purchase service's handlers get: built by bootstrap.py, the one place wiring happens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from codex_bus import Outbox
from codex_platform.mail import BackgroundMailer
from codex_purchase.gateway import StripeGateway
from codex_purchase.settings import PurchaseSettings

__all__ = ["Deps"]


@dataclass(frozen=True)
class Deps:
    settings: PurchaseSettings
    pool: asyncpg.Pool[Any]
    stripe: StripeGateway
    outbox: Outbox
    mail: BackgroundMailer
