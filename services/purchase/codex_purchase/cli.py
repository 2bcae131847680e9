"""`python -m codex_purchase.cli serve | worker | migrate`: the worker relays the outbox, consumes
catalog's and auth's events (the price projection, receipt addresses) and runs the reconciler."""

from __future__ import annotations

import sys

from codex_bus import ConsumerSettings, service_cli
from codex_purchase.bootstrap import bootstrap
from codex_purchase.handlers import SUBSCRIPTIONS
from codex_purchase.reconciler import background_tasks
from codex_purchase.settings import PurchaseSettings

# A batch waits at most a second to fill: a price changed in the catalog should be the price charged
# at once, and the projection is cheap to update one message at a time anyway.
CONSUMER = ConsumerSettings(max_batch_timeout=1.0)

CLI = service_cli(
    PurchaseSettings,
    "codex_purchase",
    bootstrap,
    subscriptions=SUBSCRIPTIONS,
    tasks=background_tasks,
    consumer_settings=CONSUMER,
)

if __name__ == "__main__":
    sys.exit(CLI.main())
