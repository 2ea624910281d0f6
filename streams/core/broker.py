"""The one place a FastStream ``KafkaBroker`` is built, so every stage talks to Kafka alike.

Delivery settings come from :class:`~streams.core.settings.Settings`: ``acks`` and producer
idempotence (both off by default because the local broker cannot do InitProducerId; switch
them on against a real cluster), TLS/SASL. Every broker carries the dead-letter middleware.
"""

from __future__ import annotations

import ssl
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from streams.core.dlq import DeadLetters, RetryPolicy
from streams.core.errors import ConfigError
from streams.core.settings import Settings


def _security(settings: Settings) -> BaseSecurity | None:
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    use_ssl = protocol.endswith("SSL")
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile) if use_ssl else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
    username = settings.kafka_sasl_username or ""
    mechanism = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    cls = mechanism[settings.kafka_sasl_mechanism or "PLAIN"]
    return cls(username=username, password=password, ssl_context=context, use_ssl=use_ssl)


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options for any plain aiokafka client (admin, readers): servers, TLS, SASL."""
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap_servers}
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return options
    options["security_protocol"] = protocol
    if protocol.endswith("SSL"):
        options["ssl_context"] = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = (
            settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None
        )
    return options


def producer_options(settings: Settings) -> dict[str, Any]:
    """aiokafka producer options shared by the broker and raw producers (bench, tools)."""
    acks: Any = "all" if settings.kafka_acks == "all" else int(settings.kafka_acks)
    return {
        "acks": acks,
        "enable_idempotence": settings.kafka_enable_idempotence,
        "linger_ms": 2,
    }


def make_broker(
    settings: Settings,
    *,
    client_id: str = "roasloop",
    dead_letters: bool = True,
    retry_policy: RetryPolicy | None = None,
) -> KafkaBroker:
    if not settings.kafka_bootstrap_servers:
        raise ConfigError("KAFKA_BOOTSTRAP_SERVERS: not set (e.g. 'localhost:9092'); `roasloop dev` sets it for you")
    options = producer_options(settings)
    letters = DeadLetters(policy=retry_policy or RetryPolicy())
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers.split(","),
        client_id=client_id,
        acks=options["acks"],
        enable_idempotence=options["enable_idempotence"],
        linger_ms=options["linger_ms"],
        security=_security(settings),
        middlewares=[letters] if dead_letters else [],
        logger=None,
        graceful_timeout=10.0,
    )
    letters.bind_broker(broker)
    return broker
