"""`python -m codex_purchase.cli serve | worker | migrate`: the worker relays the outbox, consumes
catalog's and auth's events (the price projection, receipt addresses) and runs the reconciler."""

from __future__ import annotations

import sys

from codex_bus import service_cli
from codex_purchase.bootstrap import bootstrap
from codex_purchase.handlers import SUBSCRIPTIONS
from codex_purchase.reconciler import background_tasks
from codex_purchase.settings import PurchaseSettings

CLI = service_cli(
    PurchaseSettings, "codex_purchase", bootstrap, subscriptions=SUBSCRIPTIONS, tasks=background_tasks
)

if __name__ == "__main__":
    sys.exit(CLI.main())
