"""The notify pipeline (gateway/domain/notify.py) with IOTPay's verifier, on SQLite and PostgreSQL.

Orders are created through POST /v1/orders against the real simulator; notifies are built
here from IOTPay's notify fields (docs/providers/iotpay.md) and signed with the test
merchant's key, so every rule of the pipeline is checked from the outside: the reply IOTPay
would get, the order as the API shows it, the `notifications` rows, the `gateway_order_paid`
hook calls (tests.support.paid_log) and the warning in the log.

The simulator never took these payments, so its query would contradict every one of them: the
app here runs with IOTPAY_CONFIRM_NOTIFY_BY_QUERY=0, to check each rule of the pipeline on its
own. Confirmation by query, with payments the simulator did take, is tested in
test_notify_confirm.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import requests
from gateway_iotpay import signing
from sqlalchemy import select

from gateway.store.models import NotificationRecord
from tests.conftest import MCH_ID, MCH_KEY

NOTIFY_PATH = "/notify/iotpay"
PAID_AT = datetime(2026, 5, 9, 12, 34, 56, 789000, tzinfo=UTC)
PAY_SUCC_TIME = str(int(PAID_AT.timestamp() * 1000))
OTHER_MCH_ID = "10000702"
FORM = "application/x-www-form-urlencoded"


# -- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def paid_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "paid.log"
    monkeypatch.setenv("PAID_LOG_PATH", str(path))
    return path


@pytest.fixture
def app(app_factory: Callable[..., Any], paid_log: Path) -> Any:
    """The conftest app plus the hook-recording plugin, without confirmation by query (see above)."""
    return app_factory(GATEWAY_PLUGINS="tests.support.paid_log", IOTPAY_CONFIRM_NOTIFY_BY_QUERY="0")


def hook_calls(paid_log: Path) -> list[str]:
    return paid_log.read_text().splitlines() if paid_log.exists() else []


def order_fields(amount: int = 2856, currency: str = "CAD", channel: str = "ALIPAY_MOBILE") -> dict[str, Any]:
    return {"channel": channel, "amount": amount, "currency": currency, "subject": "Coffee", "body": "1kg"}


def create_order(client: Any, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/orders", json=order_fields(**fields))
    assert response.status_code == 201, response.get_json()
    order: dict[str, Any] = response.get_json()
    assert order["status"] == "pending" and order["provider_order_id"]
    return order


def create_failed_order(client: Any, simulator_faults: Callable[..., None], err_code: str = "0014") -> dict[str, Any]:
    """An order whose create IOTPay refused, so the gateway never learnt its account (provider_account).

    A definite refusal (0014) leaves it `failed`; an ambiguous one (0111, third-party exception) `pending`.
    """
    simulator_faults("create_order", "fail", errCode=err_code)
    response = client.post("/v1/orders", json=order_fields())
    assert response.status_code == 502, response.get_json()
    order = get_order(client, response.get_json()["order_id"])
    assert order["status"] == ("failed" if err_code == "0014" else "pending")
    assert order["provider_order_id"] is None
    return order


def get_order(client: Any, order_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/orders/{order_id}")
    assert response.status_code == 200
    order: dict[str, Any] = response.get_json()
    return order


def unsigned_notify(order: Mapping[str, Any], **changes: Any) -> dict[str, str]:
    """IOTPay's asynchronous notify for `order`, values as text; `None` drops a field."""
    fields = {
        "payOrderId": order.get("provider_order_id") or "P01178000000000000001",
        "mchId": MCH_ID,
        "mchOrderNo": order["merchant_order_no"],
        "channelId": order["channel"],
        "currency": order["currency"],
        "amount": str(order["amount"]),
        "status": "2",
        "channelOrderNo": "2026050922001400000000000001",
        "paySuccTime": PAY_SUCC_TIME,
        "backType": "2",
        "clientIp": "127.0.0.1",
        "device": "WEB",
        "subject": "Coffee",
        "body": "1kg",
    }
    fields.update({name: str(value) for name, value in changes.items() if value is not None})
    return {name: value for name, value in fields.items() if changes.get(name, "") is not None}


def signed_notify(order: Mapping[str, Any], **changes: Any) -> dict[str, str]:
    params = unsigned_notify(order, **changes)
    return {**params, "sign": signing.sign(params, MCH_KEY)}


def send(client: Any, params: Mapping[str, str] | list[tuple[str, str]], how: str = "post_query") -> Any:
    """Deliver a notify the way IOTPay might: POST with a query string (XxPay), POST form, or GET."""
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    if how == "post_query":
        return client.post(f"{NOTIFY_PATH}?{urlencode(pairs)}")
    if how == "post_form":
        return client.post(NOTIFY_PATH, data=urlencode(pairs), content_type=FORM)
    if how == "get_query":
        return client.get(f"{NOTIFY_PATH}?{urlencode(pairs)}")
    raise ValueError(how)


def notifications(app: Any) -> list[NotificationRecord]:
    with app.extensions["gateway"].db.transaction() as session:
        return list(session.scalars(select(NotificationRecord).order_by(NotificationRecord.id)))


def stored_params(record: NotificationRecord) -> list[tuple[str, str]]:
    """What the row kept of the request: the query string's pairs, then a form body's."""
    pairs = parse_qsl(record.query_string, keep_blank_values=True)
    if record.body:
        pairs += parse_qsl(record.body, keep_blank_values=True)
    return pairs


def notify_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "gateway.notify" and r.levelno == logging.WARNING]


def assert_success(response: Any) -> None:
    assert (response.status_code, response.get_data(as_text=True)) == (200, "success")


def assert_refused(response: Any) -> None:
    # IOTPay retries on anything but the exact body `success`.
    assert response.get_data(as_text=True).strip() != "success"
    assert response.status_code >= 400


def assert_not_paid(client: Any, order: Mapping[str, Any], paid_log: Path, status: str = "pending") -> None:
    shown = get_order(client, order["id"])
    assert shown["status"] == status
    assert shown["paid_at"] is None
    assert hook_calls(paid_log) == []


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(0.02)
    return result


# -- accepted notifies -------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["2", "3"])
def test_paid_notify_marks_the_order_paid_once(
    app: Any, client: Any, paid_log: Path, caplog: pytest.LogCaptureFixture, status: str
) -> None:
    order = create_order(client)
    params = signed_notify(order, status=status)

    assert_success(send(client, params))

    shown = get_order(client, order["id"])
    assert shown["status"] == "paid"
    assert datetime.fromisoformat(shown["paid_at"]) == PAID_AT
    [record] = notifications(app)
    assert (record.verdict, record.order_id, record.provider) == ("applied", order["id"], "iotpay")
    assert record.method == "POST"
    assert record.received_at is not None
    assert dict(stored_params(record)) == params  # every raw field, sign included
    assert hook_calls(paid_log) == [order["id"]]
    assert notify_warnings(caplog) == []


@pytest.mark.parametrize("how", ["post_query", "post_form", "get_query"])
def test_notify_is_read_from_query_string_or_form_body(app: Any, client: Any, paid_log: Path, how: str) -> None:
    order = create_order(client)
    params = signed_notify(order)

    assert_success(send(client, params, how))

    assert get_order(client, order["id"])["status"] == "paid"
    [record] = notifications(app)
    assert record.verdict == "applied"
    assert record.method == ("GET" if how == "get_query" else "POST")
    if how == "post_form":
        assert record.query_string == ""
        assert record.content_type == FORM
        assert dict(parse_qsl(record.body)) == params
    else:
        assert record.body == ""
        assert dict(parse_qsl(record.query_string)) == params
    assert hook_calls(paid_log) == [order["id"]]


def test_fields_split_between_query_and_form_are_all_verified(app: Any, client: Any, paid_log: Path) -> None:
    order = create_order(client)
    pairs = list(signed_notify(order).items())
    response = client.post(f"{NOTIFY_PATH}?{urlencode(pairs[:5])}", data=urlencode(pairs[5:]), content_type=FORM)

    assert_success(response)
    assert [r.verdict for r in notifications(app)] == ["applied"]
    assert hook_calls(paid_log) == [order["id"]]


def test_replayed_notify_is_acknowledged_without_a_second_transition(
    app: Any, client: Any, paid_log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    order = create_order(client)
    params = signed_notify(order)
    assert_success(send(client, params))
    paid_at = get_order(client, order["id"])["paid_at"]

    assert_success(send(client, params))  # the same notify again (IOTPay retries)
    later = signed_notify(order, status="3", paySuccTime=int(PAY_SUCC_TIME) + 60_000)
    assert_success(send(client, later, "post_form"))  # a re-sent one with another time

    shown = get_order(client, order["id"])
    assert (shown["status"], shown["paid_at"]) == ("paid", paid_at)
    records = notifications(app)
    assert [r.verdict for r in records] == ["applied", "duplicate", "duplicate"]
    assert {r.order_id for r in records} == {order["id"]}
    assert hook_calls(paid_log) == [order["id"]]
    assert notify_warnings(caplog) == []


@pytest.mark.parametrize("status", ["0", "1"])
def test_non_paid_status_is_acknowledged_and_ignored(
    app: Any, client: Any, paid_log: Path, caplog: pytest.LogCaptureFixture, status: str
) -> None:
    """Only IOTPay's statuses 2 and 3 mean paid; 1 (paying) and the others are acknowledged."""
    order = create_order(client)

    assert_success(send(client, signed_notify(order, status=status)))

    assert_not_paid(client, order, paid_log)
    [record] = notifications(app)
    assert (record.verdict, record.order_id) == ("ignored", order["id"])
    assert notify_warnings(caplog) == []


@pytest.mark.parametrize("status", ["4", "9"])
def test_cancelled_status_never_marks_the_order_paid(app: Any, client: Any, paid_log: Path, status: str) -> None:
    """IOTPay's cancelled statuses: acknowledged (nothing to retry), and never paid."""
    order = create_order(client)

    assert_success(send(client, signed_notify(order, status=status)))

    shown = get_order(client, order["id"])
    assert shown["status"] not in ("paid", "partially_refunded", "refunded")
    assert shown["paid_at"] is None
    assert hook_calls(paid_log) == []
    [record] = notifications(app)
    assert (record.verdict, record.order_id) == ("ignored", order["id"])


def test_lower_case_hex_signature_is_accepted(app: Any, client: Any, paid_log: Path) -> None:
    order = create_order(client)
    params = signed_notify(order)
    params["sign"] = params["sign"].lower()
    assert params["sign"] != params["sign"].upper()

    assert_success(send(client, params))

    assert get_order(client, order["id"])["status"] == "paid"
    assert [r.verdict for r in notifications(app)] == ["applied"]


def test_same_field_twice_with_the_same_value_is_accepted(app: Any, client: Any, paid_log: Path) -> None:
    order = create_order(client)
    params = signed_notify(order)

    assert_success(send(client, [*params.items(), ("amount", params["amount"])]))

    assert get_order(client, order["id"])["status"] == "paid"


def test_notify_for_an_order_whose_creation_failed_still_marks_it_paid(
    app: Any, client: Any, paid_log: Path, simulator_faults: Callable[..., None]
) -> None:
    """IOTPay says money moved: that outranks our record of a refused create."""
    order = create_failed_order(client, simulator_faults)

    assert_success(send(client, signed_notify(order)))

    shown = get_order(client, order["id"])
    assert shown["status"] == "paid"
    assert datetime.fromisoformat(shown["paid_at"]) == PAID_AT
    assert shown["provider_order_id"] == signed_notify(order)["payOrderId"]  # learnt from the notify
    assert [r.verdict for r in notifications(app)] == ["applied"]
    assert hook_calls(paid_log) == [order["id"]]


# -- refused notifies ----------------------------------------------------------------------------


def _change_one_char(params: dict[str, str]) -> dict[str, str]:
    sign = params["sign"]
    return {**params, "sign": sign[:-1] + ("0" if sign[-1] != "0" else "1")}


def _drop_sign(params: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in params.items() if name != "sign"}


def _empty_sign(params: dict[str, str]) -> dict[str, str]:
    return {**params, "sign": ""}


def _tamper_amount(params: dict[str, str]) -> dict[str, str]:
    return {**params, "amount": "1"}


def _add_field(params: dict[str, str]) -> dict[str, str]:
    return {**params, "param1": "added after signing"}


def _sign_with_other_key(params: dict[str, str]) -> dict[str, str]:
    return {**params, "sign": signing.sign(_drop_sign(params), "0f9e8d7c6b5a49382716051423324150")}


@pytest.mark.parametrize(
    "forge",
    [_change_one_char, _drop_sign, _empty_sign, _tamper_amount, _add_field, _sign_with_other_key],
    ids=["one_char_changed", "sign_missing", "sign_empty", "amount_tampered", "field_added", "other_key"],
)
def test_bad_signature_is_refused_recorded_and_logged(
    app: Any,
    client: Any,
    paid_log: Path,
    caplog: pytest.LogCaptureFixture,
    forge: Callable[[dict[str, str]], dict[str, str]],
) -> None:
    order = create_order(client)
    forged = forge(signed_notify(order))

    assert_refused(send(client, forged))

    assert_not_paid(client, order, paid_log)
    [record] = notifications(app)
    assert record.verdict == "bad_signature"
    assert record.order_id is None  # an unverified notify names no order we trust
    assert dict(stored_params(record)) == forged
    [warning] = notify_warnings(caplog)
    assert "bad_signature" in warning


def test_bad_signature_in_a_form_body_is_recorded_with_the_body(app: Any, client: Any, paid_log: Path) -> None:
    order = create_order(client)
    forged = _tamper_amount(signed_notify(order))

    assert_refused(send(client, forged, "post_form"))

    assert_not_paid(client, order, paid_log)
    [record] = notifications(app)
    assert record.verdict == "bad_signature"
    assert dict(parse_qsl(record.body)) == forged


def test_unknown_order_is_refused_recorded_and_logged(
    app: Any, client: Any, paid_log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    order = create_order(client)
    params = signed_notify(order, mchOrderNo="20260509123456abcdefabcdef")

    assert_refused(send(client, params))

    assert_not_paid(client, order, paid_log)
    [record] = notifications(app)
    assert (record.verdict, record.order_id) == ("unknown_order", None)
    assert dict(stored_params(record)) == params
    [warning] = notify_warnings(caplog)
    assert "unknown_order" in warning


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": 2857},
        {"amount": 2855},
        {"currency": "USD"},
        {"mchId": OTHER_MCH_ID},
        {"payOrderId": "P01999999999999999999"},  # the same mchOrderNo on another IOTPay order
    ],
    ids=["amount_plus_one", "amount_minus_one", "other_currency", "other_mch_id", "other_pay_order_id"],
)
def test_mismatch_with_the_stored_order_is_refused_recorded_and_logged(
    app: Any, client: Any, paid_log: Path, caplog: pytest.LogCaptureFixture, changes: dict[str, Any]
) -> None:
    order = create_order(client, amount=2856, currency="CAD")
    params = signed_notify(order, **changes)  # correctly signed: only the content is wrong

    assert_refused(send(client, params))

    assert_not_paid(client, order, paid_log)
    [record] = notifications(app)
    assert (record.verdict, record.order_id) == ("mismatch", order["id"])
    assert dict(stored_params(record)) == params
    [warning] = notify_warnings(caplog)
    assert "mismatch" in warning


@pytest.mark.parametrize(
    "changes",
    [{"mchOrderNo": "2026\x00"}, {"currency": "CA\x00"}, {"payOrderId": "P0\x00"}, {"mchId": "1\x00"}],
    ids=["mch_order_no", "currency", "pay_order_id", "mch_id"],
)
def test_a_nul_byte_in_a_signed_field_is_refused_and_recorded_never_a_500(
    app: Any, client: Any, paid_log: Path, changes: dict[str, Any]
) -> None:
    """PostgreSQL text holds no NUL: a field the pipeline looks orders up by, or quotes in its reason,
    must not turn a signed notify (a key holder's junk) into a 500 that the sender retries."""
    order = create_order(client, amount=2856, currency="CAD")
    params = signed_notify(order, **changes)

    assert_refused(send(client, params))

    assert_not_paid(client, order, paid_log)
    [record] = notifications(app)
    assert record.verdict in ("malformed", "mismatch")
    assert "\x00" not in (record.reason or "")


@pytest.mark.parametrize("amount", ["+2856", " 2856", "2_856", "\uff12\uff18\uff15\uff16", "\u0662\u0668\u0665\u0666"])
def test_a_signed_amount_iotpay_would_never_write_is_malformed(
    app: Any, client: Any, paid_log: Path, amount: str
) -> None:
    """IOTPay writes amounts in ASCII digits; what Python's int() also reads (a sign, a space, `_`,
    fullwidth or Arabic-Indic digits) is not IOTPay's amount, signed or not."""
    order = create_order(client, amount=2856, currency="CAD")

    assert_refused(send(client, signed_notify(order, amount=amount)))

    assert_not_paid(client, order, paid_log)
    assert [r.verdict for r in notifications(app)] == ["malformed"]


def test_mismatch_after_payment_does_not_count_as_a_duplicate(app: Any, client: Any, paid_log: Path) -> None:
    order = create_order(client)
    assert_success(send(client, signed_notify(order)))

    assert_refused(send(client, signed_notify(order, amount=1)))

    assert [r.verdict for r in notifications(app)] == ["applied", "mismatch"]
    assert hook_calls(paid_log) == [order["id"]]


@pytest.mark.parametrize("where", ["query", "query_and_form"])
def test_field_sent_twice_with_different_values_is_malformed(
    app: Any, client: Any, paid_log: Path, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    order = create_order(client)
    params = signed_notify(order)
    if where == "query":
        response = send(client, [*params.items(), ("amount", "1")])
    else:
        response = client.post(f"{NOTIFY_PATH}?{urlencode(params)}", data="amount=1", content_type=FORM)

    assert_refused(response)

    assert_not_paid(client, order, paid_log)
    [record] = notifications(app)
    assert (record.verdict, record.order_id) == ("malformed", None)
    assert ("amount", "1") in stored_params(record)
    [warning] = notify_warnings(caplog)
    assert "malformed" in warning


def test_signed_notify_missing_a_required_field_is_malformed(app: Any, client: Any, paid_log: Path) -> None:
    order = create_order(client)

    assert_refused(send(client, signed_notify(order, amount=None)))

    assert_not_paid(client, order, paid_log)
    assert [r.verdict for r in notifications(app)] == ["malformed"]


@pytest.mark.parametrize("err_code", ["0014", "0111"], ids=["create_refused", "create_outcome_unknown"])
def test_notify_naming_another_merchant_never_pays_an_order_without_a_known_account(
    app: Any, client: Any, paid_log: Path, simulator_faults: Callable[..., None], err_code: str
) -> None:
    order = create_failed_order(client, simulator_faults, err_code)

    response = send(client, signed_notify(order, mchId=OTHER_MCH_ID))

    assert [r.verdict for r in notifications(app)] == ["mismatch"]
    assert_refused(response)
    assert_not_paid(client, order, paid_log, status=order["status"])


def test_request_with_a_nul_byte_in_its_body_is_recorded_and_refused(
    app: Any, client: Any, paid_log: Path, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> None:
    """Anyone can post junk to /notify: it must still be recorded and answered, never crash."""
    order = create_order(client)

    response = client.post(NOTIFY_PATH, data=b"amount=1\x00", content_type="text/plain")

    assert_refused(response)
    assert response.status_code == 400
    assert [r.verdict for r in notifications(app)] == ["bad_signature"]
    assert_not_paid(client, order, paid_log)
    assert len(notify_warnings(caplog)) == 1


def test_form_content_type_is_matched_case_insensitively(app: Any, client: Any, paid_log: Path) -> None:
    order = create_order(client)

    body = urlencode(signed_notify(order))
    response = client.post(NOTIFY_PATH, data=body, content_type="Application/X-WWW-Form-Urlencoded")

    assert [r.verdict for r in notifications(app)] == ["applied"]
    assert_success(response)


# -- end to end with the simulator ---------------------------------------------------------------


def test_simulator_payment_notifies_the_gateway_over_http(
    app: Any, client: Any, paid_log: Path, simulator: Any
) -> None:
    order = create_order(client)
    pay_order_id = order["provider_order_id"]

    response = requests.post(f"{simulator.url}/pay", json={"payOrderId": pay_order_id}, timeout=5)
    assert response.status_code == 202, response.text

    wait_for(lambda: get_order(client, order["id"])["status"] == "paid", what="gateway order paid")
    seen = wait_for(
        lambda: (body := requests.get(f"{simulator.url}/orders/{pay_order_id}", timeout=5).json())["notified"] and body,
        what="simulator order notified",
    )
    assert seen["status"] in (2, 3)  # 3: paid and notified
    assert [a.get("body") for a in seen["notifyAttempts"]] == ["success"]
    shown = get_order(client, order["id"])
    assert datetime.fromisoformat(shown["paid_at"]) == datetime.fromtimestamp(int(seen["paySuccTime"]) / 1000, UTC)
    [record] = notifications(app)
    assert (record.verdict, record.order_id, record.method) == ("applied", order["id"], "POST")
    assert dict(parse_qsl(record.query_string))["payOrderId"] == pay_order_id
    assert hook_calls(paid_log) == [order["id"]]


# -- concurrency -------------------------------------------------------------------------------------


def fire_together(url: str, params: Mapping[str, str], count: int = 20) -> list[tuple[int, str]]:
    """POST the same notify `count` times, all threads released at once by a barrier."""
    barrier = threading.Barrier(count)
    replies: list[tuple[int, str] | BaseException] = [RuntimeError("no reply")] * count

    def deliver(index: int) -> None:
        try:
            with requests.Session() as session:
                barrier.wait(timeout=30)
                response = session.post(url, params=params, timeout=60)
                replies[index] = (response.status_code, response.text)
        except BaseException as exc:  # reported by the caller, not lost in the thread
            replies[index] = exc

    threads = [threading.Thread(target=deliver, args=(i,), name=f"notify-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert not any(t.is_alive() for t in threads), "a notify request hung"
    failures = [r for r in replies if isinstance(r, BaseException)]
    assert not failures, failures
    return [r for r in replies if not isinstance(r, BaseException)]


def test_twenty_identical_concurrent_notifies_apply_once(
    app: Any, client: Any, paid_log: Path, gateway_server: Any
) -> None:
    order = create_order(client)
    params = signed_notify(order)

    replies = fire_together(f"{gateway_server.url}{NOTIFY_PATH}", params)

    assert replies == [(200, "success")] * 20
    verdicts = sorted(r.verdict for r in notifications(app))
    assert verdicts == ["applied"] + ["duplicate"] * 19
    assert hook_calls(paid_log) == [order["id"]]
    shown = get_order(client, order["id"])
    assert shown["status"] == "paid"
    assert datetime.fromisoformat(shown["paid_at"]) == PAID_AT


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_sqlite_a_notify_waiting_for_the_writers_gate_holds_no_pooled_connection(app: Any) -> None:
    # The gate is taken before a connection, never while holding one: notifies queued at the gate
    # must not drain the pool that the gate's holder needs to finish (they would wait for each other).
    client = app.test_client()
    order = create_order(client)
    assert send(client, signed_notify(order)).data == b"success"
    db = app.extensions["gateway"].db
    pool = db.engine.pool
    answers: list[bytes] = []
    duplicates = [
        threading.Thread(target=lambda: answers.append(send(app.test_client(), signed_notify(order)).data))
        for _ in range(4)
    ]
    with db.writing():
        for thread in duplicates:
            thread.start()
        time.sleep(0.3)  # they reach the gate and wait there
        assert all(thread.is_alive() for thread in duplicates)
        assert pool.checkedout() == 0
    for thread in duplicates:
        thread.join(10)
    assert answers == [b"success"] * 4
