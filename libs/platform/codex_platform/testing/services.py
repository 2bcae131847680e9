"""Where the test suite finds Postgres, RabbitMQ, Redis and S3.

In order: the conventional environment variable (`DATABASE_URL`, `AMQP_URL`, `REDIS_URL`,
`S3_ENDPOINT_URL`); else a container started with testcontainers when a Docker engine answers
(set `CODEX_TESTCONTAINERS=0` to never try); else the local default service (for S3: a moto
server in this process, on a free port).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codex_platform.settings import BaseSettings

if TYPE_CHECKING:
    from codex_platform.storage import Storage

__all__ = [
    "S3Settings",
    "amqp_service",
    "docker_available",
    "postgres_service",
    "redis_service",
    "s3_service",
]

_LOCAL = BaseSettings()
_IMAGES = {
    "postgres": os.environ.get("CODEX_TEST_POSTGRES_IMAGE", "postgres:16-alpine"),
    "rabbitmq": os.environ.get("CODEX_TEST_RABBITMQ_IMAGE", "rabbitmq:4-management-alpine"),
    "redis": os.environ.get("CODEX_TEST_REDIS_IMAGE", "redis:7-alpine"),
}


@dataclass(frozen=True)
class S3Settings:
    """How tests reach the S3 API."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"

    def storage(self, bucket: str) -> Storage:
        """A (not yet opened) `Storage` on `bucket` at this endpoint."""
        from codex_platform.storage import Storage  # aioboto3 is slow to import; only when used

        return Storage(
            bucket=bucket,
            endpoint_url=self.endpoint_url,
            region=self.region,
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
        )


@functools.cache
def docker_available() -> bool:
    """True when testcontainers may be used: allowed, and a Docker engine answers a ping."""
    if os.environ.get("CODEX_TESTCONTAINERS", "").lower() in {"0", "false", "no", "off"}:
        return False
    sockets = [Path("/var/run/docker.sock"), Path.home() / ".docker/run/docker.sock"]
    if not os.environ.get("DOCKER_HOST") and not any(p.exists() for p in sockets):
        return False
    try:
        import docker  # testcontainers' own dependency

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@contextmanager
def postgres_service() -> Iterator[str]:
    """A Postgres DSN for the test session."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
    elif docker_available():
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer(_IMAGES["postgres"], driver=None) as container:
            yield container.get_connection_url()
    else:
        yield _LOCAL.database_url


@contextmanager
def amqp_service() -> Iterator[str]:
    """An AMQP URL for the test session."""
    if url := os.environ.get("AMQP_URL"):
        yield url
    elif docker_available():
        from testcontainers.community.rabbitmq import RabbitMqContainer

        # The management API (15672) lets `queue_prefix` delete a test's queues afterwards.
        with RabbitMqContainer(_IMAGES["rabbitmq"]).with_exposed_ports(15672) as container:
            host, port = container.get_container_host_ip(), container.get_exposed_port(container.port)
            os.environ.setdefault(
                "RABBITMQ_MANAGEMENT_URL", f"http://{host}:{container.get_exposed_port(15672)}"
            )
            yield f"amqp://{container.username}:{container.password}@{host}:{port}/"
    else:
        yield _LOCAL.amqp_url


@contextmanager
def redis_service() -> Iterator[str]:
    """A Redis URL for the test session."""
    if url := os.environ.get("REDIS_URL"):
        yield url
    elif docker_available():
        from testcontainers.community.redis import RedisContainer

        with RedisContainer(_IMAGES["redis"]) as container:
            host, port = container.get_container_host_ip(), container.get_exposed_port(container.port)
            yield f"redis://{host}:{port}/0"
    else:
        yield _LOCAL.redis_url


@contextmanager
def s3_service() -> Iterator[S3Settings]:
    """An S3 endpoint for the test session: configured, MinIO in Docker, or an in-process moto."""
    if url := os.environ.get("S3_ENDPOINT_URL"):
        yield S3Settings(
            endpoint_url=url,
            access_key_id=os.environ.get("S3_ACCESS_KEY_ID") or os.environ.get("AWS_ACCESS_KEY_ID", ""),
            secret_access_key=(
                os.environ.get("S3_SECRET_ACCESS_KEY") or os.environ.get("AWS_SECRET_ACCESS_KEY", "")
            ),
            region=os.environ.get("S3_REGION", "us-east-1"),
        )
    elif docker_available():
        from testcontainers.community.minio import MinioContainer

        with MinioContainer() as container:
            config = container.get_config()
            yield S3Settings(
                endpoint_url=f"http://{config['endpoint']}",
                access_key_id=config["access_key"],
                secret_access_key=config["secret_key"],
            )
    else:
        from moto.server import ThreadedMotoServer

        # One werkzeug line per request would drown the test output.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

        # port=0: the OS picks a free port, so parallel sessions never collide.
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            # moto accepts any credentials; these only have to be present for signing.
            yield S3Settings(
                endpoint_url=f"http://{host}:{port}",
                access_key_id="testing",
                secret_access_key="testing",  # noqa: S106 - moto ignores it
            )
        finally:
            server.stop()
