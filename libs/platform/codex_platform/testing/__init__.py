"""The Codex pytest plugin (entry point `pytest11: codex_platform`), loaded in every test run.

Fixtures: `database_url`, `amqp_url`, `redis_url`, `s3_settings` (session: the services, from the
environment, testcontainers or the local defaults) and `pg_schema`, `db_pool`, `queue_prefix`,
`redis_prefix`, `s3_bucket`, `storage` (per test: an isolated namespace, cleaned afterwards).
"""

from codex_platform.testing.fixtures import (
    amqp_url,
    database_url,
    db_pool,
    pg_schema,
    queue_prefix,
    redis_prefix,
    redis_url,
    s3_bucket,
    s3_settings,
    storage,
    unique_name,
)
from codex_platform.testing.services import S3Settings, docker_available

__all__ = [
    "S3Settings",
    "amqp_url",
    "database_url",
    "db_pool",
    "docker_available",
    "pg_schema",
    "queue_prefix",
    "redis_prefix",
    "redis_url",
    "s3_bucket",
    "s3_settings",
    "storage",
    "unique_name",
]
