"""Prometheus metrics every process exposes on ``/metrics``.

One module-level registry: stages import the metric they update instead of creating their own,
so names and labels stay consistent across processes and dashboards.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES_IN = Counter(
    "roasloop_messages_in_total", "Messages consumed", ["topic", "group"], registry=REGISTRY
)
MESSAGES_OUT = Counter("roasloop_messages_out_total", "Messages published", ["topic"], registry=REGISTRY)
HANDLER_SECONDS = Histogram(
    "roasloop_handler_seconds",
    "Handler latency per message",
    ["topic", "group"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "roasloop_dead_letters_total", "Messages sent to a DLQ", ["topic", "reason"], registry=REGISTRY
)
RETRIES = Counter("roasloop_retries_total", "Handler retries", ["topic", "kind"], registry=REGISTRY)
INBOX_DUPLICATES = Counter(
    "roasloop_inbox_duplicates_total", "Redelivered events skipped by the inbox", ["consumer"], registry=REGISTRY
)
CONSUMER_LAG = Gauge(
    "roasloop_consumer_lag", "Messages behind the partition end", ["group", "topic", "partition"],
    registry=REGISTRY,
)
GUARDRAIL_BLOCKS = Counter(
    "roasloop_guardrail_interventions_total", "Budget changes clamped or blocked", ["guardrail", "action"],
    registry=REGISTRY,
)
EXTERNAL_API_SECONDS = Histogram(
    "roasloop_external_api_seconds", "Latency of calls to external APIs", ["api", "operation"], registry=REGISTRY
)
EXTERNAL_API_ERRORS = Counter(
    "roasloop_external_api_errors_total", "Errors from external APIs", ["api", "code"], registry=REGISTRY
)
HTTP_REQUESTS = Counter(
    "roasloop_http_requests_total", "HTTP requests served", ["route", "status"], registry=REGISTRY
)
MISPLACED_RECORDS = Counter(
    "roasloop_misplaced_records_total", "Records whose key belongs to another partition, re-published there",
    ["topic"], registry=REGISTRY,
)


def render() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
