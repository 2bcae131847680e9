"""`python -m codex_catalog.cli serve | worker | migrate`."""

from __future__ import annotations

import sys

from codex_bus import ConsumerSettings, service_cli
from codex_catalog.bootstrap import bootstrap
from codex_catalog.handlers import SUBSCRIPTIONS
from codex_catalog.settings import CatalogSettings

# A batch waits at most a second to fill: a creator who published early watches for the status to
# flip, and the projections are cheap to update one message at a time anyway.
CONSUMER = ConsumerSettings(max_batch_timeout=1.0)

CLI = service_cli(
    CatalogSettings, "codex_catalog", bootstrap, subscriptions=SUBSCRIPTIONS, consumer_settings=CONSUMER
)

if __name__ == "__main__":
    sys.exit(CLI.main())
