"""The service kit: what every Codex service does alike, so that its own files hold only its logic.

- `Resources`: a bootstrap's pool, Redis and storage, opened unless given, closed on exit.
- `ServiceSettings`: the settings base (name, schema, prefixes, token verification, `load()`).
- `service_app`: the Litestar app from settings, bootstrap and routes (lifespan, deps, readiness,
  domain errors as problem details, JWT verification).
- The worker and the command line live in `codex_bus.service` (they need the bus).
"""

from codex_platform.service.app import Bootstrap, deps_type_of, service_app
from codex_platform.service.readiness import Readiness, readiness_checks
from codex_platform.service.resources import Clock, Resources, utc_now
from codex_platform.service.settings import ServiceSettings

__all__ = [
    "Bootstrap",
    "Clock",
    "Readiness",
    "Resources",
    "ServiceSettings",
    "deps_type_of",
    "readiness_checks",
    "service_app",
    "utc_now",
]
