"""Notifies forged from a genuine signed IOTPay set, as a payer could build them, never pay an order.

IOTPay signs `name=value` pairs sorted and joined with `&`, nothing escaped, empty values left
out. Every payer of a redirect checkout holds such a set: IOTPay sends the browser back to
`return_url` with the payment's fields, signed, and `backType=1`. These tests take that set from
the IOTPay simulator (its real signing code), re-split the signed text into other fields with the
same signature, and send the result to /notify/iotpay over the test client: the gateway must refuse
it, leave every order as it was, queue no `order.paid`, and answer as it answers any refusal.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from gateway_iotpay import signing
from sqlalchemy import select

from gateway.store.models import NotificationRecord, OutboxEvent
from tests.conftest import MCH_ID, MCH_KEY
from tests.support.flows import wait_for

RETURN_URL = "https://shop.example.com/orders/42/return"
AMOUNT = 1000
Pairs = list[tuple[str, str]]


@pytest.fixture
def paid_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "paid.log"
    monkeypatch.setenv("PAID_LOG_PATH", str(path))
    return path


@pytest.fixture
def app(app_factory: Callable[..., Any], paid_log: Path) -> Any:
    return app_factory(GATEWAY_PLUGINS="tests.support.paid_log")


def create(client: Any, channel: str = "ALIPAY_MOBILE", **fields: Any) -> dict[str, Any]:
    payload = {"channel": channel, "amount": AMOUNT, "currency": "CAD", "subject": "Tea", "body": "Green", **fields}
    response = client.post("/v1/orders", json=payload)
    assert response.status_code == 201, response.get_json()
    order: dict[str, Any] = response.get_json()
    return order


def hold_notifies(simulator: Any) -> None:
    response = requests.post(f"{simulator.url}/faults", json={"operation": "notify", "mode": "hold"}, timeout=5)
    assert response.status_code == 201, response.text


def pay_and_come_back(pay_url: str) -> Pairs:
    """Pay on the simulator's checkout page; the signed fields the browser brings back to return_url."""
    back = requests.post(pay_url, allow_redirects=False, timeout=5)
    assert back.status_code == 303 and back.headers["Location"].startswith(RETURN_URL + "?"), back.text
    pairs = parse_qsl(urlsplit(back.headers["Location"]).query, keep_blank_values=True)
    assert dict(pairs)["backType"] == "1"
    return pairs


def create_at_iotpay_unchecked(simulator: Any, pay_order_fields: Mapping[str, Any]) -> str:
    """An order at IOTPay created without the gateway's create checks, as a gateway before them would
    have (the attacker's own order, with the forged pairs in its body). Its checkout page's URL."""
    params = {
        "mchId": MCH_ID, "channelId": "ALIPAY_PC", "currency": "CAD", "amount": AMOUNT, "clientIp": "203.0.113.9",
        "device": "WEB", "notifyUrl": "https://gateway.example/notify/iotpay", "subject": "Tea",
        "returnUrl": RETURN_URL, "jobNo": "cashier01", **pay_order_fields,
    }  # fmt: skip
    params["sign"] = signing.sign(params, MCH_KEY)
    answer = requests.post(f"{simulator.url}/v1/create_order", data={"params": json.dumps(params)}, timeout=5).json()
    assert answer["resCode"] == "SUCCESS", answer
    url: str = answer["retParams"]["alipayUrl"]
    return url


def same_signed_text(forged: Pairs, genuine: Pairs) -> None:
    """The forgery's signed text is the genuine one's: its signature (copied over) is valid."""
    assert signing.canonical_string(dict(forged), MCH_KEY) == signing.canonical_string(dict(genuine), MCH_KEY)
    assert signing.is_valid(dict(forged), MCH_KEY)


def fold(pairs: Pairs, name: str) -> Pairs:
    """Fold the pair `name=value` into the next field's name: `name=value&next` = next's value."""
    ordered = sorted((pair for pair in pairs if pair[1] and pair[0] != "sign"), key=lambda pair: pair[0])
    at = next(i for i, pair in enumerate(ordered) if pair[0] == name)
    (_, value), (after, after_value) = ordered[at], ordered[at + 1]
    merged = (f"{name}={value}&{after}", after_value)
    return [*ordered[:at], merged, *ordered[at + 2 :], ("sign", dict(pairs)["sign"])]


def cut_at(pairs: Pairs, where: str, glue: str) -> Pairs:
    """Re-split the signed text at the pairs planted in `where`'s value (`own&a=1&b=2&<glue>=`): `where`
    keeps `own`, the planted pairs become fields, and `<glue>`'s value swallows the rest of the text."""
    ordered = sorted((pair for pair in pairs if pair[1] and pair[0] != "sign"), key=lambda pair: pair[0])
    at = next(i for i, (name, _) in enumerate(ordered) if name == where or name.endswith("&" + where))
    name, value = ordered[at]
    own, _, planted = value.partition("&")
    head, _, nothing = planted.partition(f"&{glue}=")
    assert nothing == "", "the planted pairs must end the value with `&<glue>=`"
    fields = [(field, text) for field, _, text in (piece.partition("=") for piece in head.split("&"))]
    rest = "&".join(f"{n}={v}" for n, v in ordered[at + 1 :])
    return [*ordered[:at], (name, own), *fields, (glue, "&" + rest), ("sign", dict(pairs)["sign"])]


def notify(client: Any, pairs: Sequence[tuple[str, str]]) -> tuple[int, str]:
    response = client.post(f"/notify/iotpay?{urlencode(list(pairs))}")
    return response.status_code, response.get_data(as_text=True)


def verdicts(app: Any) -> list[str]:
    with app.extensions["gateway"].db.transaction() as session:
        return list(session.scalars(select(NotificationRecord.verdict).order_by(NotificationRecord.id)))


def paid_events(app: Any) -> list[str]:
    with app.extensions["gateway"].db.transaction() as session:
        rows = session.scalars(select(OutboxEvent.order_id).where(OutboxEvent.type == "order.paid"))
        return [str(order_id) for order_id in rows]


def status_of(client: Any, order_id: str, refresh: bool = False) -> str:
    status: str = client.get(f"/v1/orders/{order_id}" + ("?refresh=true" if refresh else "")).get_json()["status"]
    return status


def refusal(client: Any) -> tuple[int, str]:
    """What /notify answers a notify with a wrong signature: all a forger may learn."""
    return notify(client, [("mchOrderNo", "x"), ("sign", "0" * 32)])


# -- attack one: the browser's return, folded into a server notify --------------------------------


@pytest.mark.parametrize("how", ["as_is", "folded", "folded_and_empty_back_type"])
def test_a_browser_return_is_never_taken_for_a_server_notify(
    app: Any, client: Any, simulator: Any, paid_log: Path, how: str
) -> None:
    hold_notifies(simulator)  # IOTPay's own server notify waits: only the payer's copy is out
    order = create(client, "ALIPAY_PC", return_url=RETURN_URL)
    genuine = pay_and_come_back(order["next_action"]["url"])
    if how == "as_is":
        sent = genuine
    else:
        sent = fold(genuine, "backType")  # `backType=1&body` is now a field name
        same_signed_text(sent, genuine)
        if how == "folded_and_empty_back_type":
            sent.append(("backType", ""))  # empty: not signed
            same_signed_text(sent, genuine)

    status, body = notify(client, sent)

    assert status_of(client, order["id"]) == "pending"
    assert paid_events(app) == []
    assert not paid_log.exists()
    if how == "as_is":
        assert (status, body) == (200, "success") and verdicts(app) == ["ignored"]  # genuine, but the browser's
    else:
        assert (status, body) == refusal(client)
        assert verdicts(app)[0] == "malformed"


def test_the_held_server_notify_still_pays_the_order_after_a_folded_return(
    app: Any, client: Any, simulator: Any, paid_log: Path
) -> None:
    hold_notifies(simulator)
    order = create(client, "ALIPAY_PC", return_url=RETURN_URL)
    notify(client, fold(pay_and_come_back(order["next_action"]["url"]), "backType"))
    requests.delete(f"{simulator.url}/faults", timeout=5)  # IOTPay's server notify goes out
    wait_for(lambda: status_of(client, order["id"]) == "paid", what="the genuine notify to pay the order")
    assert paid_events(app) == [order["id"]]


# -- attack two: the order swap -----------------------------------------------------------------


SWAP_GLUES = ["zzz", "subject"]  # an undocumented field, or a documented one, swallows the rest


@pytest.mark.parametrize("glue", SWAP_GLUES)
def test_an_order_swap_from_the_attackers_own_signed_set_never_pays_the_victims_order(
    app: Any, client: Any, simulator: Any, paid_log: Path, glue: str
) -> None:
    where = "body"  # sorts before currency, mchId, mchOrderNo and status: their pairs can be planted in it
    victim = create(client)  # unpaid, the same amount
    forged_pairs = f"&currency=CAD&mchId={MCH_ID}&mchOrderNo={victim['merchant_order_no']}&status=2&{glue}="
    hold_notifies(simulator)
    fields = {"body": "Green", where: "x" + forged_pairs, "mchOrderNo": "ATTACKER0000000000000000000001"}
    genuine = pay_and_come_back(create_at_iotpay_unchecked(simulator, fields))

    # Fold backType=1 away, cut the text at the planted pairs, and add an empty payOrderId (never signed).
    folded = fold(genuine, "backType")
    forged = [*cut_at(folded, where, glue), ("payOrderId", "")]
    same_signed_text(forged, genuine)
    assert dict(forged)["mchOrderNo"] == victim["merchant_order_no"] and dict(forged)["status"] == "2"

    answer = notify(client, forged)

    assert status_of(client, victim["id"]) == "pending"
    assert status_of(client, victim["id"], refresh=True) == "pending"
    assert paid_events(app) == []
    assert not paid_log.exists()
    assert answer == refusal(client)  # the same reply as a wrong signature: nothing learnt
    assert verdicts(app)[0] == "malformed"


# -- at create: no value IOTPay echoes may hold another pair ---------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"body": "x&mchOrderNo=20260101000000aaaa"}, "body"),
        ({"subject": "Tea&status=2"}, "subject"),
        ({"body": "x&MCHORDERNO=1"}, "body"),  # any spelling of a name
        ({"body": "a & b = c"}, "body"),  # spaces around do not make it less of a pair
        ({"provider_options": {"param1": "&currency=CAD"}}, "provider_options.param1"),
        ({"provider_options": {"param2": "p&zzz="}}, "provider_options.param2"),
        ({"provider_options": {"device": "WEB&amount=1"}}, "provider_options.device"),
        ({"client_ip": "1.2.3.4&mchId=9"}, "client_ip"),
    ],
)
def test_a_value_iotpay_echoes_holding_another_pair_is_refused_at_create(
    client: Any, simulator: Any, tmp_path: Path, changes: dict[str, Any], field: str
) -> None:
    response = client.post(
        "/v1/orders",
        json={
            "channel": "ALIPAY_MOBILE",
            "amount": AMOUNT,
            "currency": "CAD",
            "subject": "Tea",
            "body": "G",
            **changes,
        },
    )

    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["error"] == "validation_error"
    assert field in body["errors"] and "'&'" in body["errors"][field][0], body
    with sqlite3.connect(tmp_path / "simulator.sqlite3") as state:
        assert state.execute("SELECT COUNT(*) FROM orders").fetchone() == (0,)  # nothing reached IOTPay


@pytest.mark.parametrize("text", ["Tea & cake", "A&B", "fish & chips", "x&", "&", "a=b", "R&D", "a=b&c"])
def test_a_lone_ampersand_is_not_a_pair_and_is_sent_as_is(client: Any, simulator: Any, text: str) -> None:
    order = create(client, subject=text, body=text)
    seen = requests.get(f"{simulator.url}/orders/{order['provider_order_id']}", timeout=5).json()
    assert (seen["subject"], seen["body"]) == (text, text)
