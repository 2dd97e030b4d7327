"""Prometheus metrics: what an operator needs to learn of trouble before merchants do.

Counters and histograms live here, at module level, as prometheus_client expects. Under
gunicorn every worker writes them to files in PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py sets
it up), and `/metrics` adds them up. `gateway worker` and `gateway reconcile` write to the
same directory when it is set for them too, so their counts reach the same scrape.

Gauges that describe the stored state (webhook backlog, orders stuck past expiry) are read
from the database at scrape time by `StateCollector`, so every process agrees on them and
nothing has to keep them up to date.

Label values are always from small fixed sets (provider names, verdicts, outcomes, error
codes, endpoint names): never an id, never anything a caller chose.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import func, select

from gateway.plugin.clock import as_utc, utcnow
from gateway.store.db import Database

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

NOTIFICATIONS = Counter(
    "gateway_notifications", "Provider notifications received, by the pipeline's verdict", ["provider", "verdict"]
)
ORDER_TRANSITIONS = Counter(
    "gateway_order_transitions",
    "Orders entering a status (pending when created at the provider)",
    ["provider", "status"],
)
PROVIDER_CALLS = Counter(
    "gateway_provider_calls",
    "Calls to a provider's API by outcome: ok, refused, not_found, unknown, timeout, unreachable, not_supported",
    ["provider", "operation", "outcome"],
)
PROVIDER_CALL_SECONDS = Histogram(
    "gateway_provider_call_seconds",
    "How long a provider's API took to answer",
    ["provider", "operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
PROVIDER_CONFIGURATION_ERRORS = Counter(
    "gateway_provider_configuration_errors",
    "Provider answers that mean the gateway is misconfigured (signature, merchant or credentials refused)",
    ["provider", "operation"],
)
REFUNDS = Counter("gateway_refunds", "Refund outcomes: succeeded, failed, unknown", ["provider", "outcome"])
WEBHOOK_DELIVERIES = Counter(
    "gateway_webhook_deliveries", "Merchant webhook POSTs by result: delivered or failed", ["result"]
)
RECONCILE_RUNS = Counter("gateway_reconcile_runs", "Reconciliation passes completed")
RECONCILE_SETTLED = Counter(
    "gateway_reconcile_results", "What reconciliation did, by result (orders_paid, orders_expired, ...)", ["result"]
)
IDEMPOTENT_REPLAYS = Counter("gateway_idempotent_replays", "Requests answered from a stored Idempotency-Key response")
IDEMPOTENCY_CONFLICTS = Counter(
    "gateway_idempotency_conflicts",
    "Idempotency-Key requests refused: reused with another body, or in progress",
    ["code"],
)
REJECTED_REQUESTS = Counter(
    "gateway_rejected_requests", "Requests answered with a 4xx, by endpoint and error code", ["endpoint", "code"]
)
THROTTLED_REQUESTS = Counter("gateway_throttled_requests", "Requests refused by a rate limit (429)", ["endpoint"])
# RED metrics of the HTTP layer. `route` is the URL rule (/v1/orders/<order_id>), never the path a
# caller sent; "unmatched" for a path no rule matches, so the label's values stay a small fixed set.
HTTP_REQUESTS = Counter(
    "gateway_http_requests",
    "HTTP requests answered, by method, route (URL rule) and status",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "gateway_http_request_duration_seconds",
    "How long the gateway took to answer, by method and route (URL rule)",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

ORDER_ATTEMPTS = Counter(
    "gateway_order_attempts",
    "Tries at creating an order at one account, by outcome: created, not_created (the next account may "
    "be tried), unknown (never fails over)",
    ["provider", "outcome"],
)

# Every metric name an alert rule or dashboard may use (scrape-time gauges included).
STATE_GAUGES = {
    "gateway_account_breakers_open": "Provider accounts skipped for a cool-down after failures of their own in a row",
    "gateway_surplus_payments": "Payments that reached an attempt its order had left: each needs a refund",
    "gateway_webhook_backlog": "Merchant webhook events not delivered yet",
    "gateway_webhook_oldest_undelivered_age_seconds": "Age of the oldest undelivered webhook event (0 when none)",
    "gateway_orders_stuck_past_expiry": "Orders still pending after their expiry (reconciliation is not running?)",
    "gateway_refunds_unsettled": "Refunds pending or unknown",
}


def exported_names() -> set[str]:
    """The series names /metrics can show (counters as `_total`, histograms as `_bucket`/`_sum`/`_count`)."""
    names = set(STATE_GAUGES)
    for metric in (
        NOTIFICATIONS,
        ORDER_TRANSITIONS,
        PROVIDER_CALLS,
        PROVIDER_CONFIGURATION_ERRORS,
        REFUNDS,
        WEBHOOK_DELIVERIES,
        RECONCILE_RUNS,
        RECONCILE_SETTLED,
        IDEMPOTENT_REPLAYS,
        IDEMPOTENCY_CONFLICTS,
        REJECTED_REQUESTS,
        THROTTLED_REQUESTS,
        HTTP_REQUESTS,
        ORDER_ATTEMPTS,
    ):
        names.add(metric._name + "_total")
    for histogram in (PROVIDER_CALL_SECONDS, HTTP_REQUEST_SECONDS):
        base = histogram._name
        names.update({f"{base}_bucket", f"{base}_sum", f"{base}_count"})
    return names


class StateCollector(Collector):
    """Gauges read from the database when scraped."""

    def __init__(self, db: Database, now: datetime | None = None, breaker: tuple[int, float] = (5, 30.0)) -> None:
        self.db = db
        self.now = now
        self.breaker = breaker  # (failures, cool-down seconds): GATEWAY_BREAKER_*

    def collect(self) -> Iterator[Metric]:
        from gateway.store import routing_queries
        from gateway.store.models import Order, OrderAttempt, OrderStatus, OutboxEvent, Refund, RefundStatus

        now = self.now or utcnow()
        with self.db.transaction() as session:
            backlog, oldest = session.execute(
                select(func.count(OutboxEvent.id), func.min(OutboxEvent.created_at)).where(
                    OutboxEvent.delivered_at.is_(None)
                )
            ).one()
            stuck = session.scalar(
                select(func.count(Order.id)).where(Order.status == OrderStatus.PENDING.value, Order.expires_at < now)
            )
            unsettled = session.scalar(
                select(func.count(Refund.id)).where(
                    Refund.status.in_([RefundStatus.PENDING.value, RefundStatus.UNKNOWN.value])
                )
            )
            surplus = session.scalar(
                select(func.count(OrderAttempt.id)).where(OrderAttempt.surplus_paid_at.is_not(None))
            )
        states = routing_queries.breaker_states(self.db, *self.breaker, now=now)
        oldest_utc = as_utc(oldest)
        age = max(0.0, (now - oldest_utc).total_seconds()) if oldest_utc is not None else 0.0
        for name, value in (
            ("gateway_webhook_backlog", backlog or 0),
            ("gateway_webhook_oldest_undelivered_age_seconds", age),
            ("gateway_orders_stuck_past_expiry", stuck or 0),
            ("gateway_refunds_unsettled", unsettled or 0),
            ("gateway_account_breakers_open", sum(1 for state in states if state.is_open)),
            ("gateway_surplus_payments", surplus or 0),
        ):
            yield GaugeMetricFamily(name, STATE_GAUGES[name], value=value)


def render(db: Database, breaker: tuple[int, float] = (5, 30.0)) -> bytes:
    """The text exposition of every process's counters plus the state gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for collector in list(REGISTRY._collector_to_names):
            registry.register(collector)
    registry.register(StateCollector(db, breaker=breaker))
    return generate_latest(registry)


# -- recording helpers (small, so call sites stay one line) -------------------------------------


def count_attempt(provider: str, outcome: str) -> None:
    ORDER_ATTEMPTS.labels(provider, outcome).inc()


def count_rejected_request(endpoint: str, status: int, code: str) -> None:
    REJECTED_REQUESTS.labels(endpoint, code).inc()
    if status == 429:
        THROTTLED_REQUESTS.labels(endpoint).inc()
    if code in ("idempotency_key_reused", "idempotency_key_in_progress"):
        IDEMPOTENCY_CONFLICTS.labels(code).inc()


# Methods outside this set (anyone may send `FOO /`) are counted as "other": the label stays bounded.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def count_http_request(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in _METHODS else "other"
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_REQUEST_SECONDS.labels(method, route).observe(seconds)


def count_reconcile(outcome: dict[str, int]) -> None:
    RECONCILE_RUNS.inc()
    for result, number in outcome.items():
        if number:
            RECONCILE_SETTLED.labels(result).inc(number)
