"""Example Pay with one deliberate bug: a gateway plugin (GATEWAY_PLUGINS) and its kit harness.

Each bug is one a provider author really makes, and one that loses money or hides it; the kit
must fail every one of them (tests/testing/test_planted_bugs.py). PLANTED_BUG names the bug;
empty plants none, and the kit must then pass.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import uuid
from collections.abc import Mapping
from typing import Any

from gateway_example_provider import schemas
from gateway_example_provider.config import DEFAULT_TIMEOUT, SANDBOX_SECRET, ExampleConfig, load_config
from gateway_example_provider.harness import ExampleHarness
from gateway_example_provider.provider import ExampleProvider
from gateway_example_provider.signing import SIGNATURE_HEADER, is_valid, sign

from gateway import hookimpl
from gateway.plugin.provider import (
    Acknowledgement,
    CreatedOrder,
    InboundRequest,
    NotFound,
    Notification,
    NotificationRejected,
    OrderRef,
    OrderRequest,
    OutcomeUnknown,
    Provider,
    ProviderError,
    ProviderTimeout,
    RefundRequest,
    RefundResult,
    Refused,
    Verdict,
)
from gateway.plugin.settings import Settings

MODULE = __name__

GATEWAY_CONTRACT_VERSION = 2  # the provider contract and hooks this plugin was written for


class PlantedProvider(ExampleProvider):
    """Example Pay's provider, with `bug` planted in the one method where an author would make it."""

    def __init__(self, *args: Any, bug: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bug = bug
        if bug == "jpy_with_two_decimals":
            self.info = dataclasses.replace(self.info, currencies={"USD": 2, "JPY": 2})
        call = self.client.call

        def buggy_call(operation: str, payload: dict[str, Any]) -> dict[str, Any]:
            try:
                return call(operation, payload)
            except ProviderTimeout:
                if bug == "timeout_reported_as_refusal":
                    raise Refused("timeout", "Example Pay did not answer") from None
                raise
            except OutcomeUnknown as error:
                if bug == "a_404_page_is_not_found" and error.code == "HTTP_404":  # any 404, not Example Pay's own
                    raise NotFound("not_found", "no such payment") from None
                if bug == "unreadable_200_is_a_refusal" and error.code == "HTTP_200":
                    raise Refused("invalid_response", "Example Pay's answer is not JSON") from None
                raise
            except ProviderError as error:
                if bug == "refusal_reported_as_unclear" and isinstance(error, Refused):
                    raise OutcomeUnknown(error.code, error.message) from None
                if bug == "secret_in_error_message":
                    # Its start "to tell which key it was": the core takes a setting's whole value out of every
                    # provider error, but cannot know a piece of it, so the piece goes out with the message.
                    error.message = f"{error.message} (key {self._secret[:16]}...)"
                raise

        self.client.call = buggy_call  # type: ignore[method-assign]

    def create_order(self, request: OrderRequest) -> CreatedOrder:
        if self.bug == "wrong_order_reference":  # the gateway's order id, not its merchant_order_no
            request = dataclasses.replace(request, merchant_order_no=request.order_id.replace("-", ""))
        try:
            return super().create_order(request)
        except OutcomeUnknown as unclear:
            if self.bug == "duplicate_reference_refused" and unclear.code == "duplicate_reference":
                raise Refused(unclear.code, unclear.message) from None  # "refused", after it had been created
            raise

    def query_order(self, order: OrderRef) -> Notification:
        if self.bug == "no_id_check_on_query_answer":
            payment = schemas.Payment().load(self.client.call("query_order", {"reference": order.merchant_order_no}))
            report = self._notification(payment)
            return dataclasses.replace(
                report, merchant_order_no=order.merchant_order_no, provider_order_id=order.provider_order_id
            )
        report = super().query_order(order)
        if self.bug == "query_never_recognises_paid":  # compares with "succeeded", a word Example Pay never says
            return dataclasses.replace(report, paid=False)
        return report

    def refund(self, request: RefundRequest) -> RefundResult:
        if self.bug == "new_refund_key_per_retry":
            request = dataclasses.replace(request, refund_id=str(uuid.uuid4()))
        if self.bug == "refunds_the_whole_amount":
            request = dataclasses.replace(request, amount=request.order.amount)
        if self.bug == "pending_refund_reported_as_succeeded":
            answer = self.client.call(
                "refund",
                {
                    "payment_id": request.order.provider_order_id,
                    "refund_id": request.refund_id,
                    "amount": self._decimal(request.amount, request.currency),
                },
            )
            return RefundResult(provider_refund_id=answer.get("id"))  # whatever its status
        result = super().refund(request)
        if self.bug == "refund_id_of_the_gateway":  # the id the gateway gave, not the one Example Pay answered
            return dataclasses.replace(result, provider_refund_id=request.refund_id)
        return result

    def verify_notification(self, request: InboundRequest) -> Notification:
        signature = request.headers.get(SIGNATURE_HEADER.lower(), "")
        expected = sign(self._secret, request.body)
        loose = {
            "signature_prefix_accepted": bool(signature) and expected.startswith(signature),
            "signature_case_folded": expected.lower() == signature.lower(),
            "signature_compared_to_its_length": hmac.compare_digest(expected, signature[: len(expected)]),
        }
        if loose.get(self.bug):
            return self._notification(schemas.Payment().loads(request.body))
        if self.bug == "no_signature_check":
            return self._notification(schemas.Payment().loads(request.body))
        if self.bug == "bad_signature_reported_as_malformed" and not is_valid(self._secret, request.body, signature):
            raise NotificationRejected(Verdict.MALFORMED, "cannot read the notification")
        if self.bug == "verifies_reserialised_json":
            body = json.dumps(json.loads(request.body)).encode()
            request = dataclasses.replace(request, body=body)
        return super().verify_notification(request)

    def acknowledge(self, verdict: Verdict) -> Acknowledgement:
        if self.bug == "always_answers_200":
            return Acknowledgement(200, "ok")
        return super().acknowledge(verdict)

    def _minor_units(self, text: str, currency: str) -> int:
        if self.bug == "amount_through_a_float":  # 0.29 * 100 == 28.999999999999996
            return int(float(text) * 10 ** self.info.currencies[currency])
        return super()._minor_units(text, currency)

    def _notification(self, payment: dict[str, Any]) -> Notification:
        report = super()._notification(payment)
        if self.bug == "every_event_paid":
            return dataclasses.replace(report, paid=True)
        if self.bug == "cancelled_payment_not_closed":
            return dataclasses.replace(report, cancelled=False)
        if self.bug == "no_event_id":
            return dataclasses.replace(report, event_id=None)
        return report


@hookimpl
def gateway_register_providers(settings: Settings) -> list[Provider]:
    bug = settings.get("PLANTED_BUG") or ""
    if bug == "missing_secret_falls_back_to_sandbox" and settings.get("EXAMPLE_SECRET") is None:
        return [PlantedProvider(ExampleConfig(SANDBOX_SECRET, settings.get("EXAMPLE_API_URL") or ""), bug=bug)]
    config = load_config(settings)
    if config is None:
        return []
    if bug == "timeout_setting_ignored":
        config = dataclasses.replace(config, timeout=DEFAULT_TIMEOUT)
    return [PlantedProvider(config, bug=bug)]


class PlantedHarness(ExampleHarness):
    """Example Pay's own harness (it knows nothing of the bug), loading this module as the plugin."""

    plugin_name = MODULE

    def __init__(self, *args: Any, bug: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bug = bug

    def settings(self, public_url: str) -> Mapping[str, str]:
        return {**super().settings(public_url), "GATEWAY_PLUGINS": MODULE, "PLANTED_BUG": self.bug}
