"""The IOTPay simulator over real HTTP: IOTPay's three calls, /pay and its notify, refunds, faults."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from gateway_iotpay import signing
from gateway_iotpay.sandbox.app import Simulator, create_simulator
from werkzeug.wrappers import Request, Response

from gateway.testing.live import LiveServer
from tests.support.processes import free_port

MCH_ID, KEY = "10000701", "9a7c3e1f5b2d4c6e8f0a1b3c5d7e9f01"
OTHER_MCH_ID, OTHER_KEY = "10000702", "0f9e8d7c6b5a49382716051423324150"
WX_EXTRA = json.dumps({"type": "apppay", "appId": "wx1234567890abcdef"}, separators=(",", ":"))


@dataclass
class NotifyReceiver:
    """A merchant's notify endpoint: records each request and answers the scripted replies in turn."""

    replies: list[str]
    received: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.received.append({"method": request.method, "args": request.args.to_dict(), "body": request.get_data()})
        reply = self.replies[min(len(self.received), len(self.replies)) - 1]
        return Response(reply, mimetype="text/plain")(environ, start_response)


def wait_for(condition: Callable[[], Any], timeout: float = 3.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
    return result


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Simulator]:
    sim = create_simulator(
        {MCH_ID: KEY, OTHER_MCH_ID: OTHER_KEY},
        str(tmp_path / "sim.sqlite"),
        notify_retry_delays=(0.05, 0.05, 0.05),
        notify_timeout=2.0,
    )
    yield sim
    sim.close()


@pytest.fixture
def sim_url(simulator: Simulator) -> Iterator[str]:
    server = LiveServer(simulator)
    yield server.url
    server.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[tuple[NotifyReceiver, str]]:
    """Notify receiver; replies come from `@pytest.mark.parametrize("receiver", [[...]], indirect=True)`."""
    app = NotifyReceiver(getattr(request, "param", ["success"]))
    server = LiveServer(app)
    yield app, f"{server.url}/notify/iotpay"
    server.stop()


def signed(params: dict[str, Any], key: str = KEY) -> dict[str, Any]:
    return {**params, "sign": signing.sign(params, key)}


def order_params(**changes: Any) -> dict[str, Any]:
    params = {
        "mchId": MCH_ID,
        "mchOrderNo": f"M{time.time_ns()}",
        "channelId": "WX_APP",
        "currency": "CAD",
        "amount": 2856,
        "clientIp": "210.73.10.148",
        "device": "WEB",
        "notifyUrl": "http://127.0.0.1:9/notify",
        "subject": "Coffee beans",
        "body": "1kg medium roast",
        "param1": "cart-7",
        "extra": WX_EXTRA,
        "jobNo": "cashier01",
    }
    params.update(changes)
    return {name: value for name, value in params.items() if value is not None}


def call(http: requests.Session, url: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    response = http.post(f"{url}/v1/{operation}", data={"params": json.dumps(params)}, timeout=5)
    assert response.status_code == 200
    return response.json()


def create(http: requests.Session, url: str, **changes: Any) -> dict[str, Any]:
    answer = call(http, url, "create_order", signed(order_params(**changes)))
    assert answer["resCode"] == "SUCCESS", answer
    return answer


def pay(http: requests.Session, url: str, pay_order_id: str) -> requests.Response:
    return http.post(f"{url}/pay", data={"payOrderId": pay_order_id}, timeout=5)


def show(http: requests.Session, url: str, pay_order_id: str) -> dict[str, Any]:
    return http.get(f"{url}/orders/{pay_order_id}", timeout=5).json()


def business_failure(answer: dict[str, Any]) -> tuple[str, str]:
    assert (answer["retCode"], answer["resCode"]) == ("SUCCESS", "FAIL"), answer
    return answer["errCode"], answer["errCodeDes"]


# -- create_order ------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["WX_APP", "ALIPAY_MOBILE", "UPI_APP"])
def test_create_order_answers_a_signed_pay_order_id(http: requests.Session, sim_url: str, channel: str) -> None:
    extra = WX_EXTRA if channel == "WX_APP" else None
    answer = create(http, sim_url, channelId=channel, extra=extra)

    assert answer["retCode"] == "SUCCESS"
    assert answer["payOrderId"].startswith("P01") and len(answer["payOrderId"]) <= 30
    assert signing.is_valid({k: v for k, v in answer.items() if k != "payParams"}, KEY)
    assert isinstance(answer["payParams"], dict) and answer["payParams"]


def test_create_order_gives_wechat_app_pay_params_for_the_requested_app(http: requests.Session, sim_url: str) -> None:
    pay_params = create(http, sim_url)["payParams"]

    assert pay_params["appid"] == "wx1234567890abcdef"
    assert pay_params["package"] == "Sign=WXPay"
    assert {"partnerid", "prepayid", "noncestr", "timestamp", "sign"} <= pay_params.keys()


def test_create_order_rejects_a_bad_signature(http: requests.Session, sim_url: str) -> None:
    answer = call(http, sim_url, "create_order", signed(order_params(), key="not-the-key"))
    assert business_failure(answer)[0] == "0013"


def test_create_order_rejects_an_unknown_merchant(http: requests.Session, sim_url: str) -> None:
    answer = call(http, sim_url, "create_order", signed(order_params(mchId="99999999")))
    assert business_failure(answer)[0] == "0015"


@pytest.mark.parametrize(
    ("changes", "named_field"),
    [
        ({"subject": None}, "subject"),
        ({"subject": "x" * 65}, "subject"),
        ({"extra": None}, "extra"),  # WX_APP needs extra.appId
        ({"amount": 0}, "amount"),
        ({"notifyUrl": "https://shop.example.com/n?x=1"}, "notifyUrl"),
        ({"currency": "EUR"}, "currency"),
        ({"surprise": "field"}, "surprise"),
    ],
)
def test_create_order_rejects_invalid_parameters_naming_the_field(
    http: requests.Session, sim_url: str, changes: dict[str, Any], named_field: str
) -> None:
    code, description = business_failure(call(http, sim_url, "create_order", signed(order_params(**changes))))
    assert code == "0014"
    assert named_field in description


def test_create_order_refuses_a_duplicate_merchant_order_number(http: requests.Session, sim_url: str) -> None:
    create(http, sim_url, mchOrderNo="DUP-1")
    code, description = business_failure(call(http, sim_url, "create_order", signed(order_params(mchOrderNo="DUP-1"))))
    assert code == "0014" and "DUP-1" in description

    # The number is unique per merchant only.
    other = signed(order_params(mchId=OTHER_MCH_ID, mchOrderNo="DUP-1"), key=OTHER_KEY)
    assert call(http, sim_url, "create_order", other)["resCode"] == "SUCCESS"


def test_non_post_is_a_communication_failure(http: requests.Session, sim_url: str) -> None:
    answer = http.get(f"{sim_url}/v1/create_order", timeout=5).json()
    assert answer == {"retCode": "FAIL", "retMsg": "POST required"}


@pytest.mark.parametrize("form", [{}, {"params": ""}, {"params": "[1, 2]"}, {"params": "{nope"}])
def test_missing_or_malformed_params_is_empty_post_data(
    http: requests.Session, sim_url: str, form: dict[str, str]
) -> None:
    answer = http.post(f"{sim_url}/v1/query_order", data=form, timeout=5).json()
    assert answer == {"retCode": "FAIL", "retMsg": "empty post data"}


# -- query_order, /pay and the notify ----------------------------------------------------------


def test_query_of_an_unknown_order_fails_with_0112(http: requests.Session, sim_url: str) -> None:
    answer = call(http, sim_url, "query_order", signed({"mchId": MCH_ID, "mchOrderNo": "never-created"}))
    assert business_failure(answer)[0] == "0112"


def test_query_shows_the_order_created_then_paid(
    http: requests.Session, sim_url: str, receiver: tuple[NotifyReceiver, str]
) -> None:
    created = create(http, sim_url, mchOrderNo="Q-1", notifyUrl=receiver[1])
    by_number = signed({"mchId": MCH_ID, "mchOrderNo": "Q-1"})

    before = call(http, sim_url, "query_order", by_number)
    assert signing.is_valid(before, KEY)
    assert (before["payOrderId"], before["status"], before["amount"]) == (created["payOrderId"], 0, 2856)
    assert "paySuccTime" not in before

    assert pay(http, sim_url, created["payOrderId"]).status_code == 202
    after = call(http, sim_url, "query_order", signed({"mchId": MCH_ID, "payOrderId": created["payOrderId"]}))
    assert signing.is_valid(after, KEY)
    assert after["status"] in (2, 3) and after["channelOrderNo"] and after["paySuccTime"].isdigit()


def test_query_does_not_show_another_merchants_order(http: requests.Session, sim_url: str) -> None:
    created = create(http, sim_url)
    answer = call(
        http,
        sim_url,
        "query_order",
        signed({"mchId": OTHER_MCH_ID, "payOrderId": created["payOrderId"]}, OTHER_KEY),
    )
    assert business_failure(answer)[0] == "0112"


def test_pay_sends_a_signed_notify_matching_the_order(
    http: requests.Session, sim_url: str, receiver: tuple[NotifyReceiver, str]
) -> None:
    app, notify_url = receiver
    # Characters that break naive query strings and naive signing alike.
    created = create(http, sim_url, mchOrderNo="N-1", notifyUrl=notify_url, subject="Beans & cream + 10%=off")

    answer = pay(http, sim_url, created["payOrderId"])

    assert answer.status_code == 202
    assert answer.json() == {"payOrderId": created["payOrderId"], "status": 2, "notify": "scheduled"}
    wait_for(lambda: app.received)
    notify = app.received[0]
    assert notify["method"] == "POST" and notify["body"] == b""
    assert signing.is_valid(notify["args"], KEY)
    expected = {
        "payOrderId": created["payOrderId"],
        "mchId": MCH_ID,
        "mchOrderNo": "N-1",
        "channelId": "WX_APP",
        "currency": "CAD",
        "amount": "2856",
        "status": "2",
        "backType": "2",
        "clientIp": "210.73.10.148",
        "device": "WEB",
        "subject": "Beans & cream + 10%=off",
        "body": "1kg medium roast",
        "param1": "cart-7",
    }
    assert expected.items() <= notify["args"].items()
    assert notify["args"]["channelOrderNo"] and notify["args"]["paySuccTime"].isdigit()
    seen = wait_for(lambda: (order := show(http, sim_url, created["payOrderId"]))["notified"] and order)
    assert seen["status"] == 3  # IOTPay: paid and notified
    assert [a["httpStatus"] for a in seen["notifyAttempts"]] == [200]


@pytest.mark.parametrize("receiver", [["fail", "success"]], indirect=True)
def test_notify_is_retried_until_the_merchant_answers_success(
    http: requests.Session, sim_url: str, receiver: tuple[NotifyReceiver, str]
) -> None:
    app, notify_url = receiver
    created = create(http, sim_url, notifyUrl=notify_url)
    pay(http, sim_url, created["payOrderId"])

    seen = wait_for(lambda: (order := show(http, sim_url, created["payOrderId"]))["notified"] and order)

    assert [a["body"] for a in seen["notifyAttempts"]] == ["fail", "success"]
    assert app.received[0]["args"] == app.received[1]["args"]


@pytest.mark.parametrize("receiver", [["fail"]], indirect=True)
def test_notify_gives_up_after_the_last_retry(
    http: requests.Session, sim_url: str, simulator: Simulator, receiver: tuple[NotifyReceiver, str]
) -> None:
    app, notify_url = receiver
    created = create(http, sim_url, notifyUrl=notify_url)
    pay(http, sim_url, created["payOrderId"])

    wait_for(lambda: len(show(http, sim_url, created["payOrderId"])["notifyAttempts"]) == 4)  # try + 3 retries
    simulator.close()  # joins the delivery thread: no attempt can follow

    seen = show(http, sim_url, created["payOrderId"])
    assert len(seen["notifyAttempts"]) == 4 == len(app.received)
    assert seen["notified"] is False and seen["status"] == 2


def test_unreachable_notify_url_is_recorded_as_an_error(http: requests.Session, sim_url: str) -> None:
    created = create(http, sim_url, notifyUrl="http://127.0.0.1:9/notify")  # port 9 (discard): refused
    pay(http, sim_url, created["payOrderId"])

    attempts = wait_for(lambda: show(http, sim_url, created["payOrderId"])["notifyAttempts"])
    assert "error" in attempts[0] and "httpStatus" not in attempts[0]


def test_paying_again_resends_the_notify(
    http: requests.Session, sim_url: str, receiver: tuple[NotifyReceiver, str]
) -> None:
    app, notify_url = receiver
    created = create(http, sim_url, notifyUrl=notify_url)
    pay(http, sim_url, created["payOrderId"])
    wait_for(lambda: show(http, sim_url, created["payOrderId"])["notified"])

    assert pay(http, sim_url, created["payOrderId"]).status_code == 202
    wait_for(lambda: len(app.received) == 2)
    assert app.received[0]["args"] == app.received[1]["args"]


def test_pay_finds_an_order_by_merchant_order_number(
    http: requests.Session, sim_url: str, receiver: tuple[NotifyReceiver, str]
) -> None:
    created = create(http, sim_url, mchOrderNo="BY-NO", notifyUrl=receiver[1])
    answer = http.post(f"{sim_url}/pay", json={"mchOrderNo": "BY-NO", "mchId": MCH_ID}, timeout=5)
    assert answer.status_code == 202 and answer.json()["payOrderId"] == created["payOrderId"]


def test_pay_and_show_answer_404_for_an_unknown_order(http: requests.Session, sim_url: str) -> None:
    assert pay(http, sim_url, "P01nope").status_code == 404
    assert http.get(f"{sim_url}/orders/P01nope", timeout=5).status_code == 404


def test_workers_sharing_the_state_file_see_each_others_orders(
    http: requests.Session, sim_url: str, tmp_path: Path
) -> None:
    created = create(http, sim_url)
    second_worker = create_simulator({MCH_ID: KEY}, str(tmp_path / "sim.sqlite"))
    server = LiveServer(second_worker)
    try:
        answer = call(http, server.url, "query_order", signed({"mchId": MCH_ID, "payOrderId": created["payOrderId"]}))
    finally:
        server.stop()
        second_worker.close()
    assert answer["payOrderId"] == created["payOrderId"]


# -- refund_order --------------------------------------------------------------------------------


def refund(http: requests.Session, url: str, pay_order_id: str, number: str, amount: int) -> dict[str, Any]:
    params = {
        "mchId": MCH_ID,
        "mchRefundNo": number,
        "payOrderId": pay_order_id,
        "refundAmount": amount,
        "currency": "CAD",
        "clientIp": "210.73.10.148",
        "loginName": "cashier01",
    }
    return call(http, url, "refund_order", signed(params))


@pytest.fixture
def paid_order(http: requests.Session, sim_url: str, receiver: tuple[NotifyReceiver, str]) -> str:
    pay_order_id = create(http, sim_url, amount=1000, notifyUrl=receiver[1])["payOrderId"]
    assert pay(http, sim_url, pay_order_id).status_code == 202
    return pay_order_id


def test_refund_of_an_unpaid_order_is_refused(http: requests.Session, sim_url: str) -> None:
    created = create(http, sim_url)
    code, description = business_failure(refund(http, sim_url, created["payOrderId"], "RF-1", 100))
    assert code == "0014" and "not paid" in description


def test_refund_of_an_unknown_order_fails_with_0112(http: requests.Session, sim_url: str) -> None:
    assert business_failure(refund(http, sim_url, "P01nope", "RF-1", 100))[0] == "0112"


def test_refunds_may_not_exceed_the_paid_amount(http: requests.Session, sim_url: str, paid_order: str) -> None:
    first = refund(http, sim_url, paid_order, "RF-1", 600)
    assert first["resCode"] == "SUCCESS" and signing.is_valid(first, KEY)
    assert (first["mchRefundNo"], first["refundAmount"]) == ("RF-1", 600)

    code, description = business_failure(refund(http, sim_url, paid_order, "RF-2", 401))
    assert code == "0014" and "400" in description
    assert refund(http, sim_url, paid_order, "RF-3", 400)["resCode"] == "SUCCESS"
    assert show(http, sim_url, paid_order)["refundedAmount"] == 1000


def test_repeating_a_refund_number_returns_the_original_refund(
    http: requests.Session, sim_url: str, paid_order: str
) -> None:
    first = refund(http, sim_url, paid_order, "RF-1", 300)
    again = refund(http, sim_url, paid_order, "RF-1", 300)
    assert again["refundOrderId"] == first["refundOrderId"]
    assert show(http, sim_url, paid_order)["refundedAmount"] == 300

    assert business_failure(refund(http, sim_url, paid_order, "RF-1", 301))[0] == "0014"


# -- faults --------------------------------------------------------------------------------------


def inject(http: requests.Session, url: str, **fault: Any) -> None:
    assert http.post(f"{url}/faults", json=fault, timeout=5).status_code == 201


def query_unknown(http: requests.Session, url: str) -> requests.Response:
    params = signed({"mchId": MCH_ID, "mchOrderNo": "none"})
    return http.post(f"{url}/v1/query_order", data={"params": json.dumps(params)}, timeout=5)


@pytest.mark.parametrize(
    ("mode", "status", "content_type", "body_check"),
    [
        ("garbage", 200, "application/json", lambda text: text == "not json{"),
        ("html", 200, "text/html", lambda text: "<html>" in text),
        ("http_500", 500, "text/html", lambda text: "500" in text),
        ("http_503", 503, "text/html", lambda text: "503" in text),
    ],
)
def test_fault_replaces_the_next_answer_once(
    http: requests.Session, sim_url: str, mode: str, status: int, content_type: str, body_check: Any
) -> None:
    inject(http, sim_url, operation="query_order", mode=mode)

    faulty = query_unknown(http, sim_url)
    assert faulty.status_code == status
    assert faulty.headers["Content-Type"].startswith(content_type)
    assert body_check(faulty.text)
    assert query_unknown(http, sim_url).json()["errCode"] == "0112"  # count defaults to 1


def test_fail_fault_answers_the_given_error_code_count_times(http: requests.Session, sim_url: str) -> None:
    inject(http, sim_url, operation="create_order", mode="fail", errCode="0111", count=2)

    for _ in range(2):
        assert business_failure(call(http, sim_url, "create_order", signed(order_params())))[0] == "0111"
    create(http, sim_url)


def test_delay_fault_answers_normally_after_the_delay(http: requests.Session, sim_url: str) -> None:
    inject(http, sim_url, operation="query_order", mode="delay", seconds=0.3)

    started = time.monotonic()
    answer = query_unknown(http, sim_url).json()

    assert time.monotonic() - started >= 0.3
    assert answer["errCode"] == "0112"


def test_faults_only_affect_their_operation_and_can_be_cleared(http: requests.Session, sim_url: str) -> None:
    inject(http, sim_url, operation="refund_order", mode="http_503", count=5)
    assert query_unknown(http, sim_url).status_code == 200

    assert http.delete(f"{sim_url}/faults", timeout=5).json() == {"faults": []}
    assert business_failure(refund(http, sim_url, "P01nope", "RF-1", 1))[0] == "0112"


@pytest.mark.parametrize(
    "fault",
    [{"operation": "pay", "mode": "fail"}, {"operation": "query_order", "mode": "explode"}, {"count": 0}],
)
def test_an_invalid_fault_is_refused(http: requests.Session, sim_url: str, fault: dict[str, Any]) -> None:
    assert http.post(f"{sim_url}/faults", json=fault, timeout=5).status_code == 400


def test_the_simulator_runs_alone_from_the_command_line(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "gateway_iotpay.sandbox.app", "--port", str(port), "--state", str(tmp_path / "s")]
    child = subprocess.Popen([*command, "--mch-id", MCH_ID, "--key", KEY], stderr=subprocess.DEVNULL)
    try:
        faults = wait_for(lambda: _get(f"http://127.0.0.1:{port}/faults"), timeout=20)
        assert faults == {"faults": []}
    finally:
        child.terminate()
        child.wait(10)


def test_the_simulator_alone_answers_a_bad_argument_with_one_line(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "gateway_iotpay.sandbox.app", "--state", str(tmp_path / "s"), "--mch-id", MCH_ID]
    done = subprocess.run(
        [*command, "--mch-id", OTHER_MCH_ID, "--key", KEY], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].endswith("error: give one --key per --mch-id")


def _get(url: str) -> Any:
    try:
        return requests.get(url, timeout=2).json()
    except requests.ConnectionError:
        return None
