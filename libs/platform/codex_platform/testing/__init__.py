"""The Codex pytest plugin (entry point `pytest11: codex_platform`), loaded in every test run.

Fixtures: `database_url`, `amqp_url`, `redis_url`, `s3_settings` (session: the services, from the
environment, testcontainers or the local defaults) and `pg_schema`, `db_pool`, `queue_prefix`,
`redis_prefix`, `s3_bucket`, `storage` (per test: an isolated namespace, cleaned afterwards), and
`token_issuer` (session: access tokens as auth signs them, with a JWKS server). `serve(app)` runs an
app under a real uvicorn.
"""

from codex_platform.testing import fixtures
from codex_platform.testing.fixtures import *  # noqa: F403  (pytest finds a plugin's fixtures by name here)
from codex_platform.testing.services import S3Settings, docker_available
from codex_platform.testing.serving import serve
from codex_platform.testing.tokens import TokenIssuer, bearer, token_issuer

__all__ = ["S3Settings", "TokenIssuer", "bearer", "docker_available", "serve", "token_issuer"]
__all__ += fixtures.__all__
