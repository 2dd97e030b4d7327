"""gateway.testing: the conformance kit for provider plugins (a pytest plugin, entry point `pytest11`).

A provider author implements a `ProviderHarness` (how to start their simulator, configure the
provider against it, and sign a notification the way their provider does), then subclasses
`ProviderConformance` in a test module with a `harness` fixture. The suite checks behaviour
through the real gateway (HTTP API, notify pipeline, database), not the shape of a class:
known-answer signatures, tampered and unsigned notifications, duplicates applied once,
mismatches and unknown orders refused, time-outs reported as unknown, refund bounds, and no
secret in logs or error bodies.

Usage (pytest loads this plugin by itself once the gateway is installed)::

    import pytest
    from gateway.testing import ProviderConformance
    from tests.myprovider.harness import MyHarness   # your ProviderHarness subclass

    class TestMyProviderConformance(ProviderConformance):
        @pytest.fixture
        def harness(self, tmp_path):
            return MyHarness(tmp_path)   # not started: the kit calls start() and stop()

The `harness` fixture returns a new, *unstarted* `ProviderHarness` for each test; it may live in
the class, the module or a conftest.py. The kit calls `start()` before the test and `stop()` after
it, even when the test fails. Every test builds its own gateway: a fresh SQLite database migrated
by Alembic, `create_app()` with `harness.settings(url)`, served on a loopback port at `url`
(where a simulator may deliver notifications). GATEWAY_* environment variables are cleared while
it runs; set every variable of your own provider that matters in `settings()`.

Run only the conformance suite with ``pytest -m gateway_conformance``. With plugin autoloading
disabled (PYTEST_DISABLE_PLUGIN_AUTOLOAD), add ``pytest_plugins = ["gateway.testing"]`` to a conftest.
The fixtures the suite uses can serve your own tests too: `gateway_harness` (the started harness),
`gateway_under_test` (a `gateway.testing_support.LiveGateway` built from it) and `gateway_factory`
(builds one with extra settings).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gateway.provider import NotificationRejected, Operation, Verdict

if TYPE_CHECKING:
    from gateway.testing_support import LiveGateway

MARKER = "gateway_conformance"
TIMEOUT = 0.25  # seconds the provider waits in the time-out tests (through `timeout_settings`)
DELAY = 1.0  # seconds the simulator then takes to answer: well past TIMEOUT, short enough not to slow the suite
CONCURRENT_DELIVERIES = 10


@dataclass(frozen=True)
class HttpRequest:
    """A request as the provider would send it to `/notify/<provider>`."""

    method: str = "POST"
    query: Sequence[tuple[str, str]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class KnownAnswer:
    """A notification whose signature was computed outside the code under test (the provider's
    documentation, its own SDK or demo code), with the settings (key) it was computed for.

    `settings` are laid over `ProviderHarness.settings(url)`, so they need only hold what the
    signature depends on (the key, the account). `valid=False` marks a deliberately broken copy.
    """

    name: str
    settings: Mapping[str, str]
    request: HttpRequest
    valid: bool = True


class ProviderHarness(ABC):
    """What the kit needs from a provider author. One instance per test.

    An "order" below is the order JSON of the public API (`POST /v1/orders`): keys `id`,
    `merchant_order_no` (the gateway's reference at the provider), `provider_order_id`,
    `channel`, `amount`, `currency`, `status` ...
    """

    provider_name: str  # the name the provider registers under (`ProviderInfo.name`)
    channel: str  # a channel to create test orders with; must be in `info.channels`
    currency: str  # a currency to create test orders with; must be in `info.currencies`
    amount: int = 1000  # minor units; the kit also sends amount + 1, so leave room below the provider's limit

    def order_options(self) -> Mapping[str, Any]:
        """`provider_options` for test orders (what `Provider.options_schema` accepts)."""
        return {}

    @abstractmethod
    def start(self) -> None:
        """Start the provider's simulator (a real HTTP server is best). The kit calls it once per test."""

    @abstractmethod
    def stop(self) -> None:
        """Stop what `start` started. Called after each test, whether it passed or not."""

    @abstractmethod
    def settings(self, public_url: str) -> Mapping[str, str]:
        """Environment-style settings that enable the provider against the simulator.

        `public_url` is the gateway's base URL (notifications go to `{public_url}/notify/<name>`).
        Called after `start()`, once for each gateway the kit builds.
        """

    @abstractmethod
    def timeout_settings(self, seconds: float) -> Mapping[str, str]:
        """Settings (laid over `settings`) that make the provider give up on a call after `seconds`.

        The provider must then raise `gateway.provider.ProviderTimeout`, which the API reports as
        a 504 `provider_timeout`. Example: ``{"MYPROVIDER_TIMEOUT": str(seconds)}``.
        """

    @abstractmethod
    def secrets(self) -> Sequence[str]:
        """Every secret value in `settings` (keys, tokens): none may ever appear in a log line, a
        response body or a recorded notification reason. Must not be empty."""

    @abstractmethod
    def paid_notification(
        self, order: Mapping[str, Any], *, amount: int | None = None, currency: str | None = None
    ) -> HttpRequest:
        """A correctly signed "this order is paid" notification for `order` (the API's order JSON).

        `amount`/`currency` override what the notification claims, still correctly signed: the
        kit expects `verify_notification` to accept it and the gateway to refuse it as `mismatch`.
        Build it from `order` alone (the kit also asks for orders the gateway never created; expected:
        `unknown_order`). The kit sends one returned request several times, sequentially and
        concurrently, and expects one `applied` and the rest `duplicate`.
        """

    @abstractmethod
    def tamper(self, request: HttpRequest) -> HttpRequest:
        """`request` with a signed field changed and the signature left as it was.

        Keep it well-formed (change a value, e.g. the amount): `verify_notification` must reject it
        with `Verdict.BAD_SIGNATURE`, not `MALFORMED`.
        """

    @abstractmethod
    def unsigned(self, request: HttpRequest) -> HttpRequest:
        """`request` with its signature removed; expected: `Verdict.BAD_SIGNATURE`."""

    @abstractmethod
    def delay_next(self, operation: str, seconds: float) -> None:
        """Make the simulator answer the next `operation` ("create_order" or "refund") `seconds` late.

        The kit sets the provider's time-out with `timeout_settings` shorter than that and expects
        `POST /v1/orders` to answer 504 `provider_timeout` with the order left `pending`.
        """

    def known_answers(self) -> Sequence[KnownAnswer]:
        """Notifications signed outside the code under test. The kit requires at least one valid one.

        For each, with its settings: a valid one must pass the signature check (the gateway may still
        refuse it for other reasons, e.g. `unknown_order`); an invalid one must be `bad_signature`.
        """
        return ()

    def pay(self, order: Mapping[str, Any]) -> None:  # noqa: B027 - optional; most simulators need nothing
        """Make the simulator treat `order` as paid, as a payer completing the payment would.

        Only the refund test calls it, before delivering `paid_notification(order)` itself; a
        notification your simulator sends as a result is welcome but not waited for. Implement it
        when your simulator refuses to refund an order it has not seen paid.
        """


# -- the pytest plugin ----------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: the gateway provider conformance suite (gateway.testing)")


@pytest.fixture
def gateway_harness(harness: ProviderHarness) -> Iterator[ProviderHarness]:
    """The `harness` fixture's harness, started for the test and stopped after it."""
    if not isinstance(harness, ProviderHarness):
        pytest.fail(f"the `harness` fixture must return a gateway.testing.ProviderHarness, not {harness!r}")
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()


@pytest.fixture(scope="session")
def gateway_migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Alembic runs once per session; each gateway gets a copy of the file."""
    from gateway.testing_support import migrated_database  # see that module's docstring for why here

    return migrated_database(tmp_path_factory.mktemp("gateway-template") / "gateway.sqlite3")


@pytest.fixture
def gateway_factory(
    gateway_harness: ProviderHarness,
    gateway_migrated_database: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., LiveGateway]]:
    """`build(settings={})`: a new gateway for the harness, with `settings` over `harness.settings(url)`."""
    from gateway.testing_support import LiveGateway

    for name in [name for name in os.environ if name.startswith("GATEWAY_")]:
        monkeypatch.delenv(name)  # a developer's GATEWAY_API_KEYS or GATEWAY_SANDBOX must not change results
    built: list[LiveGateway] = []

    def build(settings: Mapping[str, str] | None = None) -> LiveGateway:
        directory = tmp_path_factory.mktemp("gateway")
        database = directory / "gateway.sqlite3"
        shutil.copyfile(gateway_migrated_database, database)
        built.append(LiveGateway(gateway_harness, directory, database, settings or {}))
        return built[-1]

    yield build
    for gateway in built:
        gateway.close()


@pytest.fixture
def gateway_under_test(gateway_factory: Callable[..., LiveGateway]) -> LiveGateway:
    """The gateway built from `harness.settings(url)` alone."""
    return gateway_factory()


# -- the suite -------------------------------------------------------------------------------------


class ProviderConformance:
    """The conformance suite: subclass it as `Test<Provider>Conformance` with a `harness` fixture.

    Every test looks at what a user of the gateway sees: the acknowledgement the provider gets
    back (compared with the provider's own `acknowledge(verdict)`), the order through
    `GET /v1/orders/<id>`, the verdict recorded in the `notifications` table, and the
    `order.paid` merchant webhooks queued in the outbox.
    """

    pytestmark = [pytest.mark.gateway_conformance]

    # -- what the provider declares --

    def test_declared_capabilities_are_well_formed(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        info = gateway.provider.info
        assert info.channels, "info.channels is empty: declare the channels orders can be created with"
        assert harness.channel in info.channels, f"harness.channel {harness.channel!r} is not in {info.channels}"
        assert info.currencies, "info.currencies is empty: declare {ISO-4217 code: minor-unit exponent}"
        for code, exponent in info.currencies.items():
            assert len(code) == 3 and code.isalpha() and code.isupper(), f"currency {code!r} is not an ISO-4217 code"
            assert isinstance(exponent, int) and 0 <= exponent <= 4, f"{code} exponent {exponent!r} is not 0..4"
        assert harness.currency in info.currencies, f"harness.currency {harness.currency!r} is not declared"
        unknown = [operation for operation in info.operations if operation not in set(Operation)]
        assert not unknown, f"operations {unknown} are not gateway.provider.Operation members"
        listed = gateway.client.get("/v1/providers").get_json()
        assert harness.provider_name in [provider["name"] for provider in listed], "/v1/providers does not list it"

    # -- signatures --

    def test_known_answer_signatures_are_judged_as_computed_outside(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway]
    ) -> None:
        answers = list(gateway_harness.known_answers())
        if not any(answer.valid for answer in answers):
            pytest.fail(
                "harness.known_answers() has no valid KnownAnswer: give at least one notification signed "
                "outside your plugin (the provider's documentation, SDK or demo code) with the settings it "
                "was signed for, and ideally a copy with one byte changed (valid=False)"
            )
        for answer in answers:
            gateway = gateway_factory(answer.settings)
            try:
                gateway.provider.verify_notification(gateway.inbound(answer.request))
                rejected_as = None
            except NotificationRejected as rejection:
                rejected_as = rejection.verdict
            reply = gateway.notify(answer.request)
            verdicts = gateway.verdicts()
            assert len(verdicts) == 1, f"{answer.name}: one notification, recorded as {verdicts}"
            if answer.valid:
                assert rejected_as is not Verdict.BAD_SIGNATURE, (
                    f"known answer {answer.name!r} is signed correctly, but verify_notification rejected it"
                )
                assert verdicts != [Verdict.BAD_SIGNATURE], f"{answer.name}: /notify judged it {verdicts}"
            else:
                assert rejected_as is Verdict.BAD_SIGNATURE, (
                    f"known answer {answer.name!r} is signed wrongly, but verify_notification gave {rejected_as}"
                )
                assert verdicts == [Verdict.BAD_SIGNATURE], f"{answer.name}: /notify judged it {verdicts}"
                assert reply == gateway.ack(Verdict.BAD_SIGNATURE), f"{answer.name}: acknowledged with {reply}"

    @pytest.mark.parametrize("forgery", ["tampered", "unsigned"])
    def test_forged_notification_is_rejected_and_changes_nothing(
        self, gateway_under_test: LiveGateway, forgery: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order = gateway.new_order()
        genuine = harness.paid_notification(order)
        forged = harness.tamper(genuine) if forgery == "tampered" else harness.unsigned(genuine)
        assert forged != genuine, f"the harness returned the notification unchanged as the {forgery} one"
        self.assert_refused(gateway, order, gateway.notify(forged), Verdict.BAD_SIGNATURE)

    # -- the notify pipeline --

    def test_paid_notification_marks_the_order_paid(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        order = gateway.new_order()
        assert order["status"] == "pending", f"a new order is {order['status']!r}"
        reply = gateway.notify(gateway.harness.paid_notification(order))
        assert gateway.verdicts() == [Verdict.APPLIED], f"recorded as {gateway.verdicts()}"
        assert reply == gateway.ack(Verdict.APPLIED), f"acknowledged with {reply}"
        assert 200 <= reply.status < 300, f"an accepted notification is acknowledged with HTTP {reply.status}"
        assert gateway.order(order["id"])["status"] == "paid"
        assert gateway.paid_events() == [order["id"]]

    def test_notification_sent_three_times_is_applied_once(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        order = gateway.new_order()
        notification = gateway.harness.paid_notification(order)
        replies = [gateway.notify(notification) for _ in range(3)]
        assert gateway.verdicts() == [Verdict.APPLIED, Verdict.DUPLICATE, Verdict.DUPLICATE]
        expected = [gateway.ack(Verdict.APPLIED), gateway.ack(Verdict.DUPLICATE), gateway.ack(Verdict.DUPLICATE)]
        assert replies == expected, f"acknowledged with {replies}"
        assert gateway.order(order["id"])["status"] == "paid"
        assert gateway.paid_events() == [order["id"]], "one payment, one order.paid webhook"

    def test_notification_delivered_concurrently_is_applied_once(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        order = gateway.new_order()
        notification = gateway.harness.paid_notification(order)
        start_together = threading.Barrier(CONCURRENT_DELIVERIES)

        def deliver(_: int) -> Any:
            start_together.wait(timeout=10)
            return gateway.notify_over_http(notification)

        with ThreadPoolExecutor(CONCURRENT_DELIVERIES) as pool:
            replies = set(pool.map(deliver, range(CONCURRENT_DELIVERIES)))
        verdicts = sorted(gateway.verdicts())
        assert verdicts == [Verdict.APPLIED] + [Verdict.DUPLICATE] * (CONCURRENT_DELIVERIES - 1), verdicts
        assert replies <= {gateway.ack(Verdict.APPLIED), gateway.ack(Verdict.DUPLICATE)}, replies
        assert gateway.order(order["id"])["status"] == "paid"
        assert gateway.paid_events() == [order["id"]], "one payment, one order.paid webhook"

    @pytest.mark.parametrize("disagreement", ["amount", "currency"])
    def test_notification_disagreeing_with_the_order_is_refused(
        self, gateway_under_test: LiveGateway, disagreement: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order = gateway.new_order()
        if disagreement == "amount":
            notification = harness.paid_notification(order, amount=order["amount"] + 1)
        else:
            # Another currency the provider takes is the realistic case; XTS is ISO's code for tests.
            other = next((code for code in gateway.provider.info.currencies if code != order["currency"]), "XTS")
            notification = harness.paid_notification(order, currency=other)
        self.assert_refused(gateway, order, gateway.notify(notification), Verdict.MISMATCH)

    def test_notification_for_an_order_the_gateway_never_created_is_refused(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway = gateway_under_test
        order = gateway.new_order()
        notification = gateway.harness.paid_notification(gateway.order_never_created(like=order))
        self.assert_refused(gateway, order, gateway.notify(notification), Verdict.UNKNOWN_ORDER)

    @staticmethod
    def assert_refused(gateway: LiveGateway, order: Mapping[str, Any], reply: Any, verdict: Verdict) -> None:
        """`reply` refused the notification as `verdict`, and `order` is as unpaid as before."""
        assert gateway.verdicts() == [verdict], f"recorded as {gateway.verdicts()}, expected [{verdict}]"
        assert reply == gateway.ack(verdict), f"acknowledged with {reply}, not acknowledge({verdict})"
        assert reply != gateway.ack(Verdict.APPLIED), (
            f"acknowledge({verdict}) is the accepted reply: the provider would stop re-sending"
        )
        assert gateway.order(order["id"])["status"] == "pending"
        assert gateway.paid_events() == [], "a refused notification queued an order.paid webhook"

    # -- provider calls --

    def test_create_order_time_out_is_reported_as_unknown_and_leaves_the_order_pending(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway]
    ) -> None:
        gateway = gateway_factory(gateway_harness.timeout_settings(TIMEOUT))
        gateway_harness.delay_next("create_order", DELAY)
        started = time.monotonic()
        response = gateway.post_order()
        waited = time.monotonic() - started
        answer = response.get_json()
        assert response.status_code == 504, (
            f"with timeout_settings({TIMEOUT}) and delay_next('create_order', {DELAY}), "
            f"POST /v1/orders answered {response.status_code}: {answer}"
        )
        assert answer["error"] == "provider_timeout", f"raise ProviderTimeout on a read time-out, not {answer}"
        assert waited < DELAY, f"the provider waited {waited:.2f}s: timeout_settings({TIMEOUT}) was not honoured"
        assert "order_id" in answer, "a 504 must name the order it left pending"
        order = gateway.order(answer["order_id"])
        assert order["status"] == "pending", f"an order whose creation is unknown is {order['status']!r}"

    def test_refunds_never_exceed_what_was_paid(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        operations = gateway.provider.info.operations
        if Operation.REFUND not in operations:
            pytest.skip(f"{harness.provider_name} does not declare the refund operation")
        order = gateway.new_order()
        harness.pay(order)
        reply = gateway.notify(harness.paid_notification(order))
        assert gateway.order(order["id"])["status"] == "paid", f"the paid notification got {reply}"
        amount = order["amount"]

        too_much = gateway.refund(order["id"], amount + 1)
        assert too_much.status_code == 422, too_much.get_json()
        assert too_much.get_json()["error"] == "refund_exceeds_remaining", too_much.get_json()
        # Every refund is stored before the provider is asked: none on record means nothing was sent.
        assert gateway.refunds(order["id"]) == []

        whole = gateway.refund(order["id"], amount)
        assert whole.status_code == 201, f"refunding the whole amount answered {whole.get_json()}"
        assert whole.get_json()["status"] == "succeeded", whole.get_json()
        after = gateway.order(order["id"])
        assert (after["status"], after["refunded_amount"]) == ("refunded", amount), after

        more = gateway.refund(order["id"], 1)
        assert more.status_code == 422, more.get_json()
        if {Operation.PARTIAL_REFUND, Operation.MULTIPLE_REFUNDS} <= operations:
            assert more.get_json()["error"] == "refund_exceeds_remaining", more.get_json()
        assert len(gateway.refunds(order["id"])) == 1

    # -- secrets --

    def test_secrets_never_appear_in_logs_or_responses(
        self,
        gateway_harness: ProviderHarness,
        gateway_factory: Callable[..., LiveGateway],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        secrets = [secret for secret in gateway_harness.secrets() if secret]
        assert secrets, "harness.secrets() is empty: list every secret value in settings() (keys, tokens)"
        caplog.set_level(logging.DEBUG)
        gateway = gateway_factory()  # built here, so that its start-up logs are looked at too
        created = gateway.post_order()
        assert created.status_code == 201, created.get_json()
        notification = gateway_harness.paid_notification(created.get_json())
        replies = [gateway.notify(gateway_harness.tamper(notification)), gateway.notify(notification)]
        invalid = gateway.post_order(amount=0, channel="NO_SUCH_CHANNEL")
        assert 400 <= invalid.status_code < 500, invalid.get_json()
        missing = gateway.client.get("/v1/orders/no-such-order")
        # A gateway of its own for the time-out: a short time-out must not touch the calls above.
        impatient = gateway_factory(gateway_harness.timeout_settings(TIMEOUT))
        gateway_harness.delay_next("create_order", DELAY)
        timed_out = impatient.post_order()
        assert timed_out.status_code == 504, timed_out.get_json()
        places = {
            "the log": caplog.text,
            "the notification acknowledgements": " ".join(reply.body for reply in replies),
            "the recorded notification reasons": " ".join(gateway.notification_reasons()),
            **{f"the {r.status_code} answer": r.get_data(as_text=True) for r in (created, timed_out, invalid, missing)},
        }
        leaks = [
            f"secrets()[{n}] in {place}" for n, s in enumerate(secrets) for place, text in places.items() if s in text
        ]
        assert not leaks, f"secrets leak: {leaks}"
