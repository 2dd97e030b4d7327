"""The console's timeline of provider calls: each call is recorded once, and a record is handed to the
transaction that writes it explicitly, never picked up by whatever code happens to run in between."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from gateway.domain import instrument
from gateway.domain.attempts import Attempt
from gateway.plugin import (
    Acknowledgement,
    CreatedOrder,
    InboundRequest,
    Notification,
    OrderRef,
    OrderRequest,
    OutcomeUnknown,
    Provider,
    ProviderInfo,
    Refused,
    Verdict,
)
from gateway.plugin.settings import Settings
from gateway.store.db import Database
from gateway.store.models import PROVIDER_CALLS


class Quiet(Provider):
    info = ProviderInfo(name="quiet", display_name="Quiet", channels=("app",), currencies={"EUR": 2})

    def create_order(self, request: OrderRequest) -> CreatedOrder:
        return CreatedOrder(provider_order_id="p1", pay_params={"k": "v"})

    def verify_notification(self, request: InboundRequest) -> Notification:
        raise NotImplementedError

    def acknowledge(self, verdict: Verdict) -> Acknowledgement:
        return Acknowledgement(200, "ok")

    def query_order(self, order: OrderRef) -> Notification:
        raise Refused("closed", "no such thing")


def calls(db: Database) -> list[str]:
    with db.autocommit_connection() as connection:
        rows = connection.execute(select(PROVIDER_CALLS.c.operation).order_by(PROVIDER_CALLS.c.id)).all()
    return [row.operation for row in rows]


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    yield database
    database.dispose()


def instrumented(provider: Provider, db: Database) -> Provider:
    instrument.instrument(provider, db)
    return provider


def order_ref() -> OrderRef:
    return OrderRef(merchant_order_no="m1", provider_order_id=None, amount=100, currency="EUR", client_ip="1.2.3.4")


def test_a_call_made_while_records_are_held_elsewhere_is_written_at_once(db: Database) -> None:
    provider = instrumented(Quiet(), db)
    with instrument.records_held(db) as held:
        with pytest.raises(Refused):
            provider.query_order(order_ref())  # not the call the block holds a record for
        assert calls(db) == ["query_order"] and held == []
        instrument.holding(provider.query_order, held)
    assert calls(db) == ["query_order"]


def test_a_held_record_is_written_once_by_the_transaction_it_was_handed_to(db: Database) -> None:
    provider = instrumented(Quiet(), db)
    with instrument.records_held(db) as held:
        with pytest.raises(Refused):
            instrument.holding(provider.query_order, held)(order_ref())
        assert calls(db) == [] and [record["outcome"] for record in held] == ["refused"]
        with db.transaction_connection() as connection:
            instrument.write_records(connection, held)
        held.clear()
    with db.autocommit_connection() as connection:
        assert connection.execute(select(func.count()).select_from(PROVIDER_CALLS)).scalar() == 1


class Wordless(Quiet):
    """A plugin that breaks the contract's types: its error has no code and no message."""

    def query_order(self, order: OrderRef) -> Notification:
        raise OutcomeUnknown(None, None)  # type: ignore[arg-type]


def test_an_error_without_text_reaches_the_core_as_empty_text(db: Database) -> None:
    provider = instrumented(Wordless(), db)
    with pytest.raises(OutcomeUnknown) as raised:
        provider.query_order(order_ref())
    assert (raised.value.code, raised.value.message) == ("", "")
    # the routing attempt's row slices both: before, that slice was a TypeError and a 500
    row = Attempt.begin("o1", 0, "a1", "quiet", "m1").values(raised.value)
    assert (row["outcome"], row["code"], row["message"]) == ("unknown", "", "")
    assert calls(db) == ["query_order"]


class Rambling(Quiet):
    """A plugin that passes on a provider id no record can hold."""

    def create_order(self, request: OrderRequest) -> CreatedOrder:
        return CreatedOrder(provider_order_id="p" * 129, pay_params={"k": "v"})


def test_an_answer_with_an_id_no_record_can_hold_is_unclear(db: Database) -> None:
    # On PostgreSQL the answer's UPDATE would fail (varchar(128)) after the provider acted: a 500, the answer lost.
    provider = instrumented(Rambling(), db)
    with pytest.raises(OutcomeUnknown) as raised:
        provider.create_order(None)  # type: ignore[arg-type]
    assert raised.value.code == "unstorable_answer"
    assert calls(db) == ["create_order"]


SECRET = "sk_live_0123456789abcdefXYZ"
APP_ID = "wx0123456789abcdef"  # 18 characters, and no secret: an operator needs it in an error


class Echoing(Quiet):
    """A plugin that passes on a provider's refusal that quotes the request's credential back."""

    def query_order(self, order: OrderRef) -> Notification:
        raise Refused(f"bad_key_{SECRET.upper()}", f"Invalid API Key provided: {SECRET} for app {APP_ID}")


def test_a_provider_error_quoting_a_secret_setting_reaches_no_one_with_it(db: Database) -> None:
    settings = Settings(
        {
            "ECHO_SECRET_KEY": SECRET + "\n",  # read from a file: the plugin reads it stripped
            "ECHO_KEY_PREFIX": SECRET[:20],  # a value inside another: the longer one is taken out whole
            "ECHO_API_URL": "https://api.example.com/v1/long-enough-path",  # an address, not a secret
            "ECHO_APP_ID": APP_ID,  # long enough, but its name says no secret
            "ECHO_MERCHANT": "m-12345",
        },
        "/tmp",
    )
    assert set(instrument.secret_values(settings)) == {SECRET + "\n", SECRET, SECRET[:20]}
    provider = Echoing()
    instrument.instrument(provider, db, instrument.secret_values(settings))
    with pytest.raises(Refused) as raised:
        provider.query_order(order_ref())
    assert raised.value.code == "bad_key_[secret]"  # quoted back in another case, all the same
    assert raised.value.message == f"Invalid API Key provided: [secret] for app {APP_ID}"
    assert SECRET[:20].lower() not in str(raised.value).lower()
    with db.autocommit_connection() as connection:
        stored = connection.execute(select(PROVIDER_CALLS)).one()
    assert SECRET[:20].lower() not in repr(stored).lower()
