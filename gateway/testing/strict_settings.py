"""Kit checks of the settings that make a plugin stricter with its provider's answers (`strict_settings`).

Part of `ProviderConformance`. A plugin may tolerate an answer without some field by default and
require it when an operator asks (IOTPay: `IOTPAY_REQUIRE_RESPONSE_SIGN=1` requires `sign` on its
answers). The code behind such a setting runs only under it, so the kit runs a gateway with each
declared `StrictSetting` and expects:

- the genuine answers taken: an order created and a paid order refunded (strictness that refuses what
  the provider really sends stops every payment);
- each declared refusal (`refusal_answers`) still a refusal: read as unknown, an order the provider
  turned down waits for ever and routing never moves on;
- a create and a refund answered without the required field (the simulator acted; only the answer
  lacks it) unknown, with the declared code, the order pending. Not refused: the provider may have
  acted, and an answer that misses what the operator asked to be sure of says nothing sure either way.
  The code is what tells the operator why (a merchant branches on it, an operator searches for it).
  The same with the field there but empty (and, in JSON, null): unknown, with whatever code the plugin
  gives it (an empty signature is also one that does not verify).

Undeclared, skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import requests

from gateway.plugin.provider import Operation
from gateway.testing.error_codes import provider_code
from gateway.testing.harness import ProviderHarness, StrictSetting
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import is_refusal, is_unknown
from gateway.testing.refusals import acting_call, refused_by
from gateway.testing.wire import answer, intercepted

FORM = "application/x-www-form-urlencoded"


_LEFT_OUT = object()
# How an answer lacks the required field: left out, or there and empty (JSON's null too). A plugin that asks
# only whether the field is there takes `"sign": ""` as signed.
LACKING = {"without {field}": _LEFT_OUT, "with {field} empty": "", "with {field} null": None}


def without(field: str, body: bytes, content_type: str, value: Any = _LEFT_OUT) -> bytes | None:
    """`body` without its top-level `field` (a JSON object's key, or a form's pair), or with it `value`;
    None when it has none (or a form answer cannot hold `value`)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        if FORM not in content_type or value is None:
            return None
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        kept = [(name, v if name != field else value) for name, v in pairs if name != field or value is not _LEFT_OUT]
        if not any(name == field for name, _ in pairs):
            return None
        return urlencode(kept).encode()
    if not isinstance(parsed, dict) or field not in parsed:
        return None
    if value is _LEFT_OUT:
        return json.dumps({name: v for name, v in parsed.items() if name != field}).encode()
    return json.dumps({**parsed, field: value}).encode()


def stripped_of(field: str, acting: int, gateway: LiveGateway, missing: list[str], value: Any = _LEFT_OUT) -> Any:
    """Meanwhile, the call at index `acting` reaches the simulator, and its answer loses `field` (or has it
    `value`)."""

    def strip(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
        response: requests.Response = send()
        if index != acting:
            return response
        content_type = response.headers.get("Content-Type", "")
        body = without(field, response.content, content_type, value)
        if body is None:
            missing.append(response.text[:200])
            return response
        return answer(request, response.status_code, body, content_type)

    return intercepted(strip, spare=gateway.url)


class StrictSettingChecks:
    @pytest.mark.parametrize("operation", ["create_order", "refund"])
    def test_under_each_strict_setting_an_answer_without_the_required_field_is_unknown(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway], operation: str
    ) -> None:
        if not gateway_harness.strict_settings:
            pytest.skip("harness.strict_settings is empty: no setting makes the plugin require an answer field")
        for strict in gateway_harness.strict_settings:
            gateway = gateway_factory(strict.settings)
            if operation == "refund" and Operation.REFUND not in gateway.provider.operations:
                pytest.skip("the provider does not declare the refund operation")
            if operation == "create_order":
                self.judge_create(gateway, strict)
            else:
                self.judge_refund(gateway, strict)

    @staticmethod
    def judge_create(gateway: LiveGateway, strict: StrictSetting) -> None:
        genuine = gateway.post_order()
        assert genuine.status_code == 201, (
            f"with {dict(strict.settings)}, a create the simulator answered as it always does answered "
            f"{genuine.status_code}: {genuine.get_json()}; the setting refuses what the provider really sends"
        )
        acting = acting_call(gateway, gateway.post_order)
        for refusal in gateway.harness.refusal_answers:
            with refused_by(refusal, gateway, acting):
                refused = gateway.post_order()
            assert is_refusal(refused), (
                f"with {dict(strict.settings)}, the declared refusal {refusal} of a create answered "
                f"{refused.status_code}: {refused.get_json()}; a refusal the provider really sends stays a refusal"
            )
        for lacking, value in LACKING.items():
            missing: list[str] = []
            with stripped_of(strict.field, acting, gateway, missing, value):
                response = gateway.post_order()
            if missing:
                if value is _LEFT_OUT:
                    pytest.fail(f"the genuine create answer has no {strict.field!r} to leave out: {missing[0]}")
                continue  # a form answer holds no null
            what = lacking.format(field=repr(strict.field))
            StrictSettingChecks.assert_unknown(response, strict, f"create answered {what}", value is _LEFT_OUT)
            status = gateway.order(response.get_json()["order_id"])["status"]
            assert status == "pending", f"an order whose create was answered {what} is {status!r}"

    @staticmethod
    def judge_refund(gateway: LiveGateway, strict: StrictSetting) -> None:
        paid = gateway.paid_order()
        genuine = gateway.refund(paid["id"], paid["amount"])
        assert genuine.status_code == 201, (
            f"with {dict(strict.settings)}, a refund the simulator answered as it always does answered "
            f"{genuine.status_code}: {genuine.get_json()}; the setting refuses what the provider really sends"
        )
        probe = gateway.paid_order()
        acting = acting_call(gateway, lambda: gateway.refund(probe["id"], probe["amount"]))
        for refusal in gateway.harness.refusal_answers:
            order = gateway.paid_order()
            with refused_by(refusal, gateway, acting):
                refused = gateway.refund(order["id"], order["amount"])
            assert is_refusal(refused), (
                f"with {dict(strict.settings)}, the declared refusal {refusal} of a refund answered "
                f"{refused.status_code}: {refused.get_json()}; a refusal the provider really sends stays a refusal"
            )
        for lacking, value in LACKING.items():
            order, missing = gateway.paid_order(), list[str]()
            with stripped_of(strict.field, acting, gateway, missing, value):
                response = gateway.refund(order["id"], order["amount"])
            if missing:
                if value is _LEFT_OUT:
                    pytest.fail(f"the genuine refund answer has no {strict.field!r} to leave out: {missing[0]}")
                continue
            what = lacking.format(field=repr(strict.field))
            StrictSettingChecks.assert_unknown(response, strict, f"refund answered {what}", value is _LEFT_OUT)
            if value is _LEFT_OUT:
                recorded = [provider_code(refund) for refund in gateway.refunds(order["id"])]
                assert recorded == [strict.code], f"the refund whose answer lacked {strict.field!r} records {recorded}"

    @staticmethod
    def assert_unknown(response: Any, strict: StrictSetting, what: str, declared_code: bool) -> None:
        """Unknown; left out, with the declared code (empty, a signature that does not verify may say so)."""
        answered = response.get_json()
        coded = provider_code(answered) == strict.code or not declared_code
        assert is_unknown(response) and coded, (
            f"with {dict(strict.settings)}, a {what} (the simulator acted) gave "
            f"{response.status_code}: {answered}; the provider may have acted, so the outcome is unknown"
            + (
                f", with provider_error.code {strict.code!r} (StrictSetting.code) to tell the operator why"
                if declared_code
                else ""
            )
        )
