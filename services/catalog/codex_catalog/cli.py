"""`python -m codex_catalog.cli serve | worker | migrate`."""

from __future__ import annotations

import sys

from codex_bus import service_cli
from codex_catalog.bootstrap import bootstrap
from codex_catalog.handlers import SUBSCRIPTIONS
from codex_catalog.settings import CatalogSettings

CLI = service_cli(CatalogSettings, "codex_catalog", bootstrap, subscriptions=SUBSCRIPTIONS)

if __name__ == "__main__":
    sys.exit(CLI.main())
