"""/metrics: protected, and counting what operators alert on; the shipped alert rules and dashboard
only name metrics that exist."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gateway.plugin.settings import ConfigError
from gateway.telemetry import metrics
from tests.support.flows import order_with, paid_with

METRICS_KEY = "metrics-key-0123456789abcdef"
OPERATIONS_DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations"
PROVIDER = "example"  # Example Pay, the provider of this module's gateway (pytest.mark.neutral)

pytestmark = pytest.mark.neutral


@pytest.fixture
def metrics_app(app_factory: Callable[..., Any]) -> Any:
    return app_factory(GATEWAY_METRICS_KEYS=METRICS_KEY)


def scrape(app: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"})
    assert response.status_code == 200, response.data
    samples = {}
    for family in text_string_to_metric_families(response.data.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_off_without_a_key_and_refuse_a_wrong_one(
    client: Any, metrics_app: Any, app_factory: Callable[..., Any]
) -> None:
    assert client.get("/metrics").status_code == 404
    other = metrics_app.test_client()
    assert other.get("/metrics").status_code == 401
    assert other.get("/metrics", headers={"Authorization": "Bearer not-the-key-at-all"}).status_code == 401
    with pytest.raises(ConfigError, match="GATEWAY_METRICS_KEYS"):
        app_factory(GATEWAY_METRICS_KEYS="short")


def test_a_paid_order_counts_its_call_transitions_notify_and_queued_webhook(
    metrics_app: Any, neutral_provider: Any
) -> None:
    before = scrape(metrics_app)
    paid_with(metrics_app.test_client(), neutral_provider)
    after = scrape(metrics_app)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    call = {"provider": PROVIDER, "operation": "create_order"}
    assert delta("gateway_provider_calls_total", outcome="ok", **call) == 1
    assert delta("gateway_provider_call_seconds_count", **call) == 1
    assert delta("gateway_order_transitions_total", provider=PROVIDER, status="pending") == 1
    assert delta("gateway_order_transitions_total", provider=PROVIDER, status="paid") == 1
    assert delta("gateway_notifications_total", provider=PROVIDER, verdict="applied") == 1
    assert value(after, "gateway_webhook_backlog") == value(before, "gateway_webhook_backlog") + 1  # order.paid


def test_forged_notifies_rejected_requests_and_idempotent_replays_are_counted(metrics_app: Any) -> None:
    client = metrics_app.test_client()
    before = scrape(metrics_app)
    client.post(f"/notify/{PROVIDER}", data=b'{"event": "evt_x"}', headers={"X-Example-Signature": "0" * 64})
    client.get("/v1/orders/00000000-0000-0000-0000-000000000000")
    order = {"channel": "wallet", "amount": 100, "currency": "USD", "subject": "T", "body": "B"}
    for body in (order, order, {**order, "amount": 101}):
        client.post("/v1/orders", json=body, headers={"Idempotency-Key": "k-metrics-1"})
    after = scrape(metrics_app)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    rejected = sum(
        delta("gateway_notifications_total", provider=PROVIDER, verdict=verdict)
        for verdict in ("bad_signature", "malformed")
    )
    assert rejected == 1
    assert delta("gateway_rejected_requests_total", endpoint="v1.OrderById", code="order_not_found") == 1
    assert delta("gateway_idempotent_replays_total") == 1
    assert delta("gateway_idempotency_conflicts_total", code="idempotency_key_reused") == 1


def test_orders_stuck_past_their_expiry_show_as_a_gauge(app_factory: Callable[..., Any], neutral_provider: Any) -> None:
    app = app_factory(GATEWAY_METRICS_KEYS=METRICS_KEY, GATEWAY_ORDER_EXPIRY="0")
    order_with(app.test_client(), neutral_provider)
    assert value(scrape(app), "gateway_orders_stuck_past_expiry") == 1


def test_reconcile_runs_are_counted_by_what_they_did() -> None:
    # Other tests in this process count reconcile runs too: compare with what was there before.
    before = metrics.RECONCILE_RUNS._value.get()
    expired = metrics.RECONCILE_SETTLED.labels("orders_expired")._value.get()
    paid = metrics.RECONCILE_SETTLED.labels("orders_paid")._value.get()
    metrics.count_reconcile({"orders_expired": 2, "orders_paid": 0})
    assert metrics.RECONCILE_RUNS._value.get() == before + 1
    assert metrics.RECONCILE_SETTLED.labels("orders_expired")._value.get() == expired + 2
    assert metrics.RECONCILE_SETTLED.labels("orders_paid")._value.get() == paid


# -- the shipped examples ------------------------------------------------------------------------

_METRIC_NAME = re.compile(r"\bgateway_[a-z_]+\b")


def referenced_metrics(expressions: list[str]) -> set[str]:
    return {name for expression in expressions for name in _METRIC_NAME.findall(expression)}


def test_every_metric_in_the_example_alert_rules_exists() -> None:
    rules = yaml.safe_load((OPERATIONS_DOCS / "alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    names = {rule["alert"] for rule in alerts}
    for required in ("GatewayWebhookBacklogStale", "GatewayProviderErrors", "GatewayOrdersStuckPastExpiry"):
        assert required in names
    assert "GatewayForgedNotifySpike" in names
    used = referenced_metrics([rule["expr"] for rule in alerts])
    assert used, "no metric found in the rules"
    assert used <= metrics.exported_names(), used - metrics.exported_names()


def test_every_metric_on_the_example_dashboard_exists() -> None:
    dashboard = json.loads((OPERATIONS_DOCS / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = referenced_metrics(expressions)
    assert len(used) >= 10
    assert used <= metrics.exported_names(), used - metrics.exported_names()


def test_exported_names_are_what_a_scrape_shows(metrics_app: Any, neutral_provider: Any) -> None:
    paid_with(metrics_app.test_client(), neutral_provider)
    shown = {name for name, _labels in scrape(metrics_app)}
    for name in ("gateway_provider_calls_total", "gateway_provider_call_seconds_bucket", "gateway_webhook_backlog"):
        assert name in shown and name in metrics.exported_names()


def test_a_provider_refusing_the_gateways_signature_is_a_configuration_error(app_factory: Callable[..., Any]) -> None:
    app = app_factory(GATEWAY_METRICS_KEYS=METRICS_KEY, EXAMPLE_SECRET="not-the-simulators-secret")
    labels = {"provider": PROVIDER, "operation": "create_order"}
    before = value(scrape(app), "gateway_provider_configuration_errors_total", **labels)
    response = app.test_client().post(
        "/v1/orders", json={"channel": "wallet", "amount": 100, "currency": "USD", "subject": "T", "body": "B"}
    )
    assert response.status_code == 502 and response.get_json()["provider_error"]["code"] == "bad_signature"
    assert value(scrape(app), "gateway_provider_configuration_errors_total", **labels) == before + 1


# -- the HTTP layer (RED: rate, errors, duration) -------------------------------------------------


def test_requests_are_counted_by_route_and_status_never_by_the_path_sent(metrics_app: Any) -> None:
    client = metrics_app.test_client()
    before = scrape(metrics_app)
    for order_id in ("00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"):
        client.get(f"/v1/orders/{order_id}")
    client.get("/no/such/path/12345")
    client.get("/healthz")
    after = scrape(metrics_app)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    by_id = {"method": "GET", "route": "/v1/orders/<order_id>"}
    assert delta("gateway_http_requests_total", status="404", **by_id) == 2  # one series for both ids
    assert delta("gateway_http_request_duration_seconds_count", **by_id) == 2
    assert delta("gateway_http_request_duration_seconds_bucket", le="+Inf", **by_id) == 2
    assert delta("gateway_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert delta("gateway_http_requests_total", method="GET", route="/healthz", status="200") == 1
    shown = {labels for name, labels in after if name == "gateway_http_requests_total"}
    assert not any("12345" in str(labels) or "0000-000000000001" in str(labels) for labels in shown)


def test_an_unexpected_error_counts_as_a_500_of_its_route(app_factory: Callable[..., Any]) -> None:
    app = app_factory(GATEWAY_METRICS_KEYS=METRICS_KEY)

    def broken(item_id: str) -> Any:
        raise RuntimeError("a bug")

    app.add_url_rule("/broken/<item_id>", view_func=broken)  # before the app's first request
    before = scrape(app)
    assert app.test_client().get("/broken/42").status_code == 500
    labels = {"method": "GET", "route": "/broken/<item_id>", "status": "500"}
    assert (
        value(scrape(app), "gateway_http_requests_total", **labels)
        - value(before, "gateway_http_requests_total", **labels)
        == 1
    )


def test_methods_nobody_uses_share_one_label_value(metrics_app: Any) -> None:
    before = scrape(metrics_app)
    metrics_app.test_client().open("/healthz", method="BREW")
    after = scrape(metrics_app)
    labels = {"method": "other", "route": "unmatched", "status": "405"}
    assert (
        value(after, "gateway_http_requests_total", **labels) - value(before, "gateway_http_requests_total", **labels)
        == 1
    )


def series_shown(app: Any) -> set[str]:
    """Every series name a scrape shows, samples or not (a labelled counter nothing has counted yet
    still has its HELP and TYPE lines)."""
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"})
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    names = set()
    for family in text_string_to_metric_families(response.data.decode()):
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def test_the_dashboard_and_the_alerts_use_the_red_metrics_and_only_series_a_scrape_shows(metrics_app: Any) -> None:
    metrics_app.test_client().get("/healthz")
    shown = series_shown(metrics_app)
    dashboard = json.loads((OPERATIONS_DOCS / "grafana-dashboard.json").read_text())
    panels = {panel["title"]: [target["expr"] for target in panel["targets"]] for panel in dashboard["panels"]}
    rules = yaml.safe_load((OPERATIONS_DOCS / "alerts.yml").read_text())
    alerts = {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}

    assert 'gateway_http_requests_total{status=~"5.."}' in " ".join(panels["HTTP 5xx ratio"])
    assert "histogram_quantile(0.99" in " ".join(panels["HTTP latency p99 by route"])
    assert 'gateway_http_requests_total{status=~"5.."}' in alerts["GatewayHttpErrors"]
    assert (
        "histogram_quantile(0.99, sum by (method, route, le) (rate(gateway_http_request_duration_seconds_bucket"
        in (alerts["GatewayHttpSlow"])
    )
    used = referenced_metrics([*(expr for exprs in panels.values() for expr in exprs), *alerts.values()])
    assert sorted(used - shown) == []
