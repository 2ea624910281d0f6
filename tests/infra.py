"""Where the test suite's broker and database come from.

In order of preference: servers named by the environment (``KAFKA_BOOTSTRAP_SERVERS``,
``DATABASE_URL``); testcontainers when a Docker engine answers; otherwise the embedded Tansu
broker and embedded PostgreSQL. One of each per test session; tests isolate themselves with
a topic prefix and a database schema of their own.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from aiokafka.admin import AIOKafkaAdminClient


def _docker_answers() -> bool:
    if os.environ.get("ROASLOOP_TEST_NO_DOCKER"):
        return False
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def kafka_server() -> Iterator[str]:
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield servers
    elif _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as container:
            yield container.get_bootstrap_server()
    else:
        from streams.lab.dev.broker import LocalBroker

        with LocalBroker() as broker:
            yield broker.bootstrap_servers


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
    elif _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:17", driver=None) as container:
            yield container.get_connection_url()
    else:
        from streams.lab.dev.postgres import LocalPostgres

        with LocalPostgres() as server:
            yield server.url


async def drop_topics(bootstrap_servers: str, marker: str) -> None:
    """Delete every topic whose name contains ``marker`` (a test's own prefix).

    The suite shares one broker, and a full metadata request, which every client start pays,
    grows with the number of topics on it: left in place, thousands of abandoned test topics made
    each client start cost most of a second and the suite three times slower than it should be.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        doomed = [name for name in await admin.list_topics() if marker in name]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()
