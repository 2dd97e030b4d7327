"""Two merchants and three accounts of one provider (two for one merchant) side by side, on SQLite and
PostgreSQL: one test per isolation rule (issue 18). The provider is Example Pay (examples/), whose
account is its secret: each account here has its own secret and its own simulator."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from gateway.domain import webhooks
from gateway.store import migrate
from gateway.testing import HttpRequest, ProviderHarness
from gateway.testing.live import LiveServer
from tests.gateway.conftest import NEUTRAL_NAME
from tests.gateway.test_console import ADMIN_KEY, logged_in
from tests.support.flows import wait_for

pytestmark = pytest.mark.neutral

ENV_API_KEY = "env-key-0123456789abcdef"
CREDENTIALS_KEY = Fernet.generate_key().decode()
ENV_WEBHOOK_SECRET = "env-webhook-secret-0123456789"
# Made up, and unlike any other key of the suite, so that the database grep means something.
ACCOUNTS = {
    "a-one": "acad0b7e51f2c4d98a6e3f1b2c7d9e01",
    "a-two": "ausd5c2e8f1a4b7d0e3c6f9a2b5d8e02",
    "b-one": "bcad9e4a1c7f2b5d8e0a3c6f9b2d5e03",
}
ORDER = {"channel": "wallet", "amount": 1000, "currency": "USD", "subject": "Tea", "body": "Green"}


@pytest.fixture
def account_providers(neutral_provider: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Each stored account's Example Pay, started: its own secret, its own simulator."""
    started = {name: type(neutral_provider)(tmp_path, secret, account=name) for name, secret in ACCOUNTS.items()}
    for harness in started.values():
        harness.start()
    yield started
    for harness in started.values():
        harness.stop()


@dataclass
class World:
    app: Any
    env: ProviderHarness  # the environment's account (the default merchant's)
    providers: dict[str, Any]  # account name -> its Example Pay
    tmp_path: Path
    keys: dict[str, str] = field(default_factory=dict)  # merchant name -> API key
    merchants: dict[str, str] = field(default_factory=dict)  # merchant name -> id
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # account name -> the CLI's answer

    def cli(self, *args: str) -> Any:
        result = self.app.test_cli_runner().invoke(args=["gateway", *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def settings_file(self, name: str, secret: str, api_url: str) -> str:
        path = self.tmp_path / f"{name}.json"
        path.write_text(json.dumps({"EXAMPLE_SECRET": secret, "EXAMPLE_API_URL": api_url, "EXAMPLE_TIMEOUT": "2"}))
        return str(path)

    def provider_of(self, order: dict[str, Any]) -> Any:
        """The Example Pay (simulator) the order was created at: its account's."""
        name = next((name for name, account in self.accounts.items() if account["id"] == order["account"]), None)
        return self.env if name is None else self.providers[name]

    def client(self, merchant: str) -> Any:
        client = self.app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {self.keys[merchant]}"
        return client

    def create(self, merchant: str, **extra: Any) -> Any:
        return self.client(merchant).post("/v1/orders", json={**ORDER, **extra})

    def paid(self, merchant: str, order: dict[str, Any]) -> dict[str, Any]:
        client = self.client(merchant)
        self.provider_of(order).pay(order)

        def is_paid() -> Any:
            shown = client.get(f"/v1/orders/{order['id']}").get_json()
            return shown if shown["status"] == "paid" else None

        return wait_for(is_paid, what="the order to be paid")  # type: ignore[no-any-return]


class Sink:
    """Merchants' webhook endpoints, one path each: records (path, body, signature header)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.received.append((environ["PATH_INFO"], body, environ.get("HTTP_GATEWAY_SIGNATURE", "")))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture
def sink() -> Iterator[LiveServer]:
    server = LiveServer(Sink())
    yield server
    server.stop()


@pytest.fixture
def world(
    app_factory: Any, neutral_provider: Any, account_providers: dict[str, Any], tmp_path: Path, sink: LiveServer
) -> World:
    app = app_factory(
        GATEWAY_CREDENTIALS_KEYS=CREDENTIALS_KEY,
        GATEWAY_API_KEYS=ENV_API_KEY,
        GATEWAY_WEBHOOK_URL=f"{sink.url}/hooks/env",
        GATEWAY_WEBHOOK_SECRET=ENV_WEBHOOK_SECRET,
        GATEWAY_ADMIN_KEYS=f"alice={ADMIN_KEY}",
    )
    world = World(app, neutral_provider, account_providers, tmp_path, keys={"env": ENV_API_KEY})
    for merchant in ("A", "B"):
        created = world.cli("merchants", "create", "--name", merchant)
        world.keys[merchant], world.merchants[merchant] = created["api_key"], created["id"]
    for name, secret in ACCOUNTS.items():
        merchant = "A" if name.startswith("a-") else "B"
        world.accounts[name] = world.cli(
            "accounts", "create", "--merchant", world.merchants[merchant], "--provider", NEUTRAL_NAME,
            "--name", name, "--settings", world.settings_file(name, secret, account_providers[name].url),
        )  # fmt: skip
    return world


def signed_with(order: dict[str, Any], secret: str) -> HttpRequest:
    """Example Pay's paid notification for `order`, signed with `secret`."""
    from gateway_example_provider.harness import event

    return event(order, "paid", secret=secret)


def send(url: str, notification: HttpRequest) -> requests.Response:
    return requests.post(url, data=notification.body, headers=dict(notification.headers), timeout=5)


def forged_notify(world: World, order: dict[str, Any], signing_key: str, account: str) -> requests.Response:
    """The paid notification for `order`, signed with `signing_key`, sent to an account's notify URL.

    The order is paid at its simulator first (its own notification lost): what decides is the
    signature and the URL."""
    world.provider_of(order).pay_without_notifying(order)
    return send(world.accounts[account]["notify_url"], signed_with(order, signing_key))


def accepted(answer: requests.Response) -> bool:
    return answer.status_code == 200


def test_each_account_has_its_own_notify_url_and_orders_name_merchant_and_account(world: World) -> None:
    cases = [("A", "a-one"), ("A", "a-two"), ("B", "b-one")]
    for merchant, account in cases:
        created = world.create(merchant, account=account)
        assert created.status_code == 201, created.get_json()
        order = created.get_json()
        assert (order["merchant"], order["account"]) == (world.merchants[merchant], world.accounts[account]["id"])
        stored = world.providers[account].payment(order)  # created with this account's credentials, there
        assert stored["notify_url"] == world.accounts[account]["notify_url"]
        assert stored["notify_url"].endswith(f"/notify/{NEUTRAL_NAME}/{world.accounts[account]['id']}")
        assert world.paid(merchant, order)["status"] == "paid"  # its notify verified with its own key

    env_order = world.create("env").get_json()  # the environment's merchant, unchanged
    assert (env_order["merchant"], env_order["account"]) == ("default", f"default-{NEUTRAL_NAME}")
    assert world.env.payment(env_order)["notify_url"].endswith(f"/notify/{NEUTRAL_NAME}")
    assert world.paid("env", env_order)["status"] == "paid"


def test_a_notify_signed_with_another_accounts_secret_is_refused_even_for_the_same_provider(world: World) -> None:
    order = world.create("A", account="a-one").get_json()
    other_key = ACCOUNTS["a-two"]  # the same merchant's other account at the same provider

    at_its_url = forged_notify(world, order, other_key, "a-one")
    at_the_signers_url = forged_notify(world, order, other_key, "a-two")
    at_the_environments_url = send(  # the environment's account's key, at its URL
        world.accounts["a-one"]["notify_url"].rsplit("/", 1)[0], signed_with(order, world.env.secrets()[0])
    )

    for answer in (at_its_url, at_the_signers_url, at_the_environments_url):
        assert not accepted(answer), answer.text
    assert world.client("A").get(f"/v1/orders/{order['id']}").get_json()["status"] == "pending"
    genuine = forged_notify(world, order, ACCOUNTS["a-one"], "a-one")
    assert accepted(genuine), genuine.text
    assert world.client("A").get(f"/v1/orders/{order['id']}").get_json()["status"] == "paid"


def test_another_merchants_order_and_refunds_answer_404_never_403(world: World) -> None:
    order = world.paid("A", world.create("A", account="a-one").get_json())
    refund = world.client("A").post(f"/v1/orders/{order['id']}/refunds", json={"amount": 100, "reference": "r1"})
    assert refund.status_code == 201, refund.get_json()
    b, env = world.client("B"), world.client("env")

    for client in (b, env):
        assert client.get(f"/v1/orders/{order['id']}").status_code == 404
        assert client.get(f"/v1/orders/{order['id']}?refresh=true").status_code == 404
        assert client.get(f"/v1/orders/{order['id']}/qr_code").status_code == 404
        assert client.get(f"/v1/orders/{order['id']}/refunds").status_code == 404
        assert client.get(f"/v1/refunds/{refund.get_json()['id']}").status_code == 404
        assert (
            client.post(f"/v1/orders/{order['id']}/refunds", json={"amount": 100, "reference": "r1"}).status_code == 404
        )

    shown = world.client("A").get(f"/v1/orders/{order['id']}").get_json()
    assert shown["refunded_amount"] == 100  # nothing B or the environment's key did touched it


def test_an_account_is_chosen_by_id_or_name_and_two_without_a_choice_answer_422(world: World) -> None:
    two = world.create("A")
    assert two.status_code == 422
    assert "a-one" in two.get_json()["errors"]["account"][0] and "a-two" in two.get_json()["errors"]["account"][0]

    only = world.create("B")  # B's only account
    assert only.status_code == 201 and only.get_json()["account"] == world.accounts["b-one"]["id"]
    by_id = world.create("A", account=world.accounts["a-two"]["id"])
    assert by_id.status_code == 201 and by_id.get_json()["account"] == world.accounts["a-two"]["id"]

    for someone_elses in ("b-one", world.accounts["b-one"]["id"], f"default-{NEUTRAL_NAME}"):
        refused = world.create("A", account=someone_elses)
        assert refused.status_code == 422 and "account" in refused.get_json()["errors"]


def test_merchant_webhook_events_go_only_to_the_orders_merchant(world: World, sink: LiveServer) -> None:
    secrets_ = {"env": ENV_WEBHOOK_SECRET}
    for merchant in ("A", "B"):
        url = f"{sink.url}/hooks/{merchant}"
        secrets_[merchant] = world.cli(
            "merchants", "set-webhook", "--merchant", world.merchants[merchant], "--url", url
        )["secret"]
    orders = {
        "A": world.paid("A", world.create("A", account="a-two").get_json()),
        "B": world.paid("B", world.create("B").get_json()),
        "env": world.paid("env", world.create("env").get_json()),
    }

    report = webhooks.deliver_due(world.app.extensions["gateway"].db, world.app.extensions["gateway"].settings)

    assert (report.delivered, report.failed) == (3, 0)
    received = sink.app.received  # type: ignore[union-attr]
    assert sorted(path for path, _, _ in received) == ["/hooks/A", "/hooks/B", "/hooks/env"]
    for path, body, signature in received:
        merchant = path.rsplit("/", 1)[1]
        assert json.loads(body)["data"]["order"]["id"] == orders[merchant]["id"]
        assert webhooks.verify_signature(secrets_[merchant], signature, body)
        others = [secret for name, secret in secrets_.items() if name != merchant]
        assert not any(webhooks.verify_signature(secret, signature, body) for secret in others)


def test_the_console_shows_each_orders_merchant_and_account_and_filters_by_them(world: World) -> None:
    order = world.create("A", account="a-two").get_json()
    console = logged_in(world.app)

    page = console.get(f"/console/orders/{order['id']}").get_data(as_text=True)
    listed = console.get(f"/console/orders?q={order['merchant_order_no']}").get_data(as_text=True)

    for shown in (page, listed):
        assert world.merchants["A"] in shown and world.accounts["a-two"]["id"] in shown

    other = world.create("B").get_json()
    by_merchant = console.get(f"/console/orders?merchant={world.merchants['A']}").get_data(as_text=True)
    by_account = console.get(f"/console/orders?account={world.accounts['b-one']['id']}").get_data(as_text=True)
    assert order["id"] in by_merchant and other["id"] not in by_merchant
    assert other["id"] in by_account and order["id"] not in by_account


def test_a_revoked_key_is_refused_and_a_key_does_only_what_its_scopes_allow(world: World) -> None:
    order = world.create("A", account="a-one").get_json()
    reader = world.cli("keys", "create", "--merchant", world.merchants["A"], "--scope", "orders:read")
    world.keys["reader"] = reader["api_key"]

    assert world.client("reader").get(f"/v1/orders/{order['id']}").status_code == 200
    assert world.create("reader", account="a-one").status_code == 403
    assert (
        world.client("reader")
        .post(f"/v1/orders/{order['id']}/refunds", json={"amount": 1, "reference": "r2"})
        .status_code
        == 403
    )

    world.cli("keys", "revoke", reader["id"])
    assert world.client("reader").get(f"/v1/orders/{order['id']}").status_code == 401


def test_a_rotated_account_uses_its_new_secret_and_accepts_the_previous_one_until_the_grace_ends(
    world: World,
) -> None:
    order = world.create("A", account="a-one").get_json()
    old_key, url = ACCOUNTS["a-one"], world.providers["a-one"].url
    new_key = "acadrotated0123456789abcdef00001"
    world.providers["a-one"].simulator.secret = new_key  # the provider's portal issued a new key
    world.cli(
        "accounts", "rotate", world.accounts["a-one"]["id"], "--settings", world.settings_file("new", new_key, url)
    )

    later = world.create("A", account="a-one")  # new calls are signed with the new key (else refused)
    assert later.status_code == 201, later.get_json()
    assert accepted(forged_notify(world, order, old_key, "a-one"))  # in the grace period

    second = world.create("A", account="a-one").get_json()
    world.cli(
        "accounts", "rotate", world.accounts["a-one"]["id"], "--grace-hours", "0",
        "--settings", world.settings_file("newer", new_key, url),
    )  # fmt: skip
    assert not accepted(forged_notify(world, second, old_key, "a-one"))  # no grace left
    assert accepted(forged_notify(world, second, new_key, "a-one"))


def test_a_disabled_account_takes_no_new_orders_but_its_orders_still_settle(world: World) -> None:
    order = world.create("A", account="a-one").get_json()
    world.cli("accounts", "disable", world.accounts["a-one"]["id"])

    refused = world.create("A", account="a-one")
    assert refused.status_code == 422 and "disabled" in refused.get_json()["errors"]["account"][0]
    assert world.create("A").get_json()["account"] == world.accounts["a-two"]["id"]  # the only one left
    assert world.paid("A", order)["status"] == "paid"


def test_no_provider_secret_is_stored_in_plain_text(world: World, database_url: str) -> None:
    world.cli("merchants", "set-webhook", "--merchant", world.merchants["A"], "--url", "https://a.example/hooks")
    world.paid("A", world.create("A", account="a-one").get_json())
    secrets_ = [*ACCOUNTS.values(), world.keys["A"], world.keys["B"]]

    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(path)) as connection:  # everything into the file itself, none in a journal
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        dump = Path(path).read_bytes()
    else:
        engine = create_engine(database_url)
        with engine.connect() as connection:
            tables = ["merchants", "api_keys", "provider_accounts", "orders", "notifications", "provider_calls"]
            dump = "".join(
                str(row) for table in tables for row in connection.execute(text(f"SELECT * FROM {table}"))
            ).encode()
        engine.dispose()
    assert world.accounts["a-one"]["id"].encode() in dump  # the grep looks where the accounts are
    for secret in secrets_:
        assert secret.encode() not in dump


def test_storing_an_account_without_credentials_keys_is_refused(app_factory: Any) -> None:
    app = app_factory()
    runner = app.test_cli_runner()
    created = json.loads(runner.invoke(args=["gateway", "merchants", "create", "--name", "C"]).stdout)

    result = runner.invoke(
        args=["gateway", "merchants", "set-webhook", "--merchant", created["id"], "--url", "https://c.example/h"]
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: GATEWAY_CREDENTIALS_KEYS is not set")


BEFORE_MERCHANTS = "0008"  # the last revision without merchants


def test_the_migration_moves_existing_orders_onto_the_default_merchant_and_its_account(database_url: str) -> None:
    migrate.downgrade(database_url, BEFORE_MERCHANTS)
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO orders (id, provider, channel, amount, currency, status, merchant_order_no, subject,"
                    " body, client_ip, metadata, created_at, updated_at, paid_after_expiry, refunded_amount)"
                    " VALUES (:id, :provider, 'wallet', 1000, 'USD', 'paid', 'M1', 'Tea', 'Green', '127.0.0.1', '{}',"
                    " :now, :now, :no, 0)"
                ),
                {
                    "id": "00000000-0000-4000-8000-000000000001",
                    "provider": NEUTRAL_NAME,
                    "now": datetime.now(UTC),
                    "no": False,
                },
            )
        migrate.upgrade(database_url)
        with engine.connect() as connection:
            row = connection.execute(text("SELECT merchant_id, account_id FROM orders")).one()
            merchant = connection.execute(text("SELECT id, name FROM merchants")).one()
    finally:
        engine.dispose()
        migrate.upgrade(database_url)
    assert tuple(row) == ("default", f"default-{NEUTRAL_NAME}")
    assert tuple(merchant) == ("default", "default")


def test_a_provider_without_environment_settings_serves_stored_accounts(
    database_url: str,
    neutral_plugin: dict[str, str],
    neutral_provider: Any,
    account_providers: dict[str, Any],
    gateway_server: LiveServer,
    tmp_path: Path,
) -> None:
    from gateway import create_app

    config = {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_PUBLIC_URL": gateway_server.url,
        "GATEWAY_INSTANCE_PATH": str(tmp_path / "instance"),
        "GATEWAY_CREDENTIALS_KEYS": CREDENTIALS_KEY,
        "GATEWAY_API_KEYS": ENV_API_KEY,
        **neutral_plugin,
    }
    app = create_app(config)  # no EXAMPLE_* at all: Example Pay has no default account
    gateway_server.app = app
    try:
        world = World(app, neutral_provider, {"c": account_providers["b-one"]}, tmp_path)
        assert app.extensions["gateway"].providers == {}
        created = world.cli("merchants", "create", "--name", "only-stored")
        world.keys["C"] = created["api_key"]
        world.accounts["c"] = world.cli(
            "accounts", "create", "--merchant", created["id"], "--provider", NEUTRAL_NAME, "--name", "c",
            "--settings", world.settings_file("c", ACCOUNTS["b-one"], account_providers["b-one"].url),
        )  # fmt: skip

        order = world.create("C")
        assert order.status_code == 201, order.get_json()
        assert world.paid("C", order.get_json())["account"] == world.accounts["c"]["id"]
        default = f"default-{NEUTRAL_NAME}"
        assert world.client("C").post("/v1/orders", json={**ORDER, "account": default}).status_code == 422
    finally:
        app.extensions["gateway"].db.dispose()


def bad_arguments(world: World) -> list[list[str]]:
    a = world.merchants["A"]
    good = world.settings_file("good", ACCOUNTS["a-one"], world.providers["a-one"].url)
    not_json = world.tmp_path / "not.json"
    not_json.write_text("EXAMPLE_SECRET=1")
    leaky = world.tmp_path / "leaky.json"
    leaky.write_text(json.dumps({"EXAMPLE_SECRET": ACCOUNTS["a-one"], "EXAMPLE_API_URL": "ftp://x"}))
    provider = NEUTRAL_NAME
    return [
        ["merchants", "create"],
        ["merchants", "create", "--name", " "],
        ["merchants", "create", "--name", "A"],
        ["merchants", "bogus"],
        ["merchants", "set-webhook", "--merchant", "nobody", "--url", "https://x.example/h"],
        ["merchants", "set-webhook", "--merchant", a, "--url", "ftp://x.example/h"],
        ["merchants", "set-webhook", "--merchant", a, "--url", "http://169.254.169.254/latest/meta-data"],
        ["merchants", "set-webhook", "--merchant", a, "--url", "http://shop.example/plain"],
        ["keys", "create", "--merchant", "nobody"],
        ["keys", "create", "--merchant", a, "--scope", "orders:delete"],
        ["keys", "revoke", "nope"],
        ["accounts", "create", "--merchant", a, "--provider", "nope", "--name", "x", "--settings", good],
        ["accounts", "create", "--merchant", "nobody", "--provider", provider, "--name", "x", "--settings", good],
        ["accounts", "create", "--merchant", "default", "--provider", provider, "--name", "x", "--settings", good],
        ["accounts", "create", "--merchant", a, "--provider", provider, "--name", "a-one", "--settings", good],
        ["accounts", "create", "--merchant", a, "--provider", provider, "--name", "x", "--settings", "missing.json"],
        ["accounts", "create", "--merchant", a, "--provider", provider, "--name", "x", "--settings", str(not_json)],
        ["accounts", "create", "--merchant", a, "--provider", provider, "--name", "x", "--settings", str(leaky)],
        ["accounts", "rotate", "nope", "--settings", good],
        ["accounts", "rotate", world.accounts["a-one"]["id"], "--settings", str(leaky)],
        ["accounts", "disable", "nope"],
        ["accounts", "list", "--merchant", "nobody"],
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_bad_argument_gets_one_error_line_exit_1_and_no_secret(world: World) -> None:
    for args in bad_arguments(world):
        result = world.app.test_cli_runner().invoke(args=["gateway", *args])

        assert result.exit_code == 1, (args, result.output)
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (args, result.stderr)
        assert ACCOUNTS["a-one"] not in result.stderr
