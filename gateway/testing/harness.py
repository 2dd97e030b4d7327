"""The harness interface: what a provider author writes so the conformance suite can drive their provider."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any


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
    `at` (aware) is the moment a notification with a signed timestamp was signed: the kit sets the
    provider's clock (`Provider.clock`) to it, so the answer stays known whenever the kit runs.
    """

    name: str
    settings: Mapping[str, str]
    request: HttpRequest
    valid: bool = True
    at: datetime | None = None  # when it was signed, for a signed timestamp: the kit fixes the provider's clock there


@dataclass(frozen=True)
class ProviderAnswer:
    """An answer as the provider sends it: the HTTP status, the body, its content type."""

    status: int
    body: str
    content_type: str = "application/json"


@dataclass(frozen=True)
class InvalidOrderExample:
    """An order your provider refuses before calling its API, and the public field it must name.

    `overrides` are laid over the kit's order fields (`channel`, `currency`, `provider_options` ...,
    as `POST /v1/orders` takes them); `field` is the key the 422's `errors` must hold, as the API
    names it (`provider_options.param2`, `subject`).
    """

    name: str
    overrides: Mapping[str, Any]
    field: str


@dataclass(frozen=True)
class InvalidRefundExample:
    """A refund your provider's rules refuse, and the code the refund must fail with.

    The kit pays an order made of its order fields with `overrides` laid over them (like
    `InvalidOrderExample.overrides`: a currency whose rules the refund breaks), refunds `amount` minor
    units of it, and expects the refund `failed` with `provider_error.code` `code`, and nothing refunded
    at the simulator.
    """

    name: str
    overrides: Mapping[str, Any]
    amount: int
    code: str


@dataclass(frozen=True)
class ValidOrderExample:
    """An order your provider must take, though it is close to one it refuses: an option given empty or
    switched off (`False`) on a channel that does not take it, an option at its edge. `overrides` are laid
    over the kit's order fields, like `InvalidOrderExample.overrides`; the kit expects the order created.
    """

    name: str
    overrides: Mapping[str, Any]


@dataclass(frozen=True)
class FieldLimit:
    """The most characters your provider takes in one order field, as its documentation says.

    The kit creates an order with the field exactly `length` long (expected: created) and one with it a
    character longer (expected: a 422 naming `field`). `field` is the public name (`subject`,
    `return_url`, `provider_options.param2`); the value is `start` (what such a value begins with, a
    URL's scheme and host) filled up with `x`; `overrides` are other order fields the order needs (a
    channel that takes the field), laid over the kit's like `InvalidOrderExample.overrides`.
    """

    field: str
    length: int
    start: str = ""
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # `field` is the attribute above


@dataclass(frozen=True)
class StrictSetting:
    """Settings under which your plugin requires a field of your provider's answers that it otherwise
    tolerates missing (IOTPay: `IOTPAY_REQUIRE_RESPONSE_SIGN=1` requires `sign`).

    `settings` are laid over `settings(public_url)`; `field` is the top-level field of a JSON answer (or
    a form answer's) then required; `code` is the `provider_error.code` your plugin gives an answer
    without it. The kit runs a gateway with `settings` and expects the genuine create and refund taken,
    your declared refusals still refused, and a create and a refund answered without `field` unknown with
    `code`.
    """

    settings: Mapping[str, str]
    field: str
    code: str


class ProviderHarness(ABC):
    """What the kit needs from a provider author. One instance per test.

    An "order" below is the order JSON of the public API (`POST /v1/orders`): keys `id`,
    `merchant_order_no` (the gateway's reference at the provider), `provider_order_id`,
    `channel`, `amount`, `currency`, `status` ...
    """

    provider_name: str  # the name the provider registers under (`ProviderInfo.name`)
    # The name your provider's own pages give it, which `/v1/providers` shows checkouts and their payers
    # (`ProviderInfo.display_name`; IOTPay: "IOTPay"); None: not judged.
    display_name: str | None = None
    channel: str  # a channel to create test orders with; must be in `info.channels`
    currency: str  # a currency to create test orders with; must be in `info.currencies`
    amount: int = 1000  # minor units; the kit also sends amount + 1, so leave room below the provider's limit
    # What the provider has, declared (the kit tests each declared one; the defaults keep older harnesses running):
    signature_ignores_case: bool = False  # True only when the provider documents hex signatures in either case
    required_settings: Sequence[str] = ()  # settings without which the plugin must refuse to start, naming them
    # Settings your plugin starts without, each with the provider_options an order gives in its place, by channel
    # ({setting: {channel: options}}; IOTPay: {"IOTPAY_WX_APP_ID": {"WX_APP": {"app_id": ...}}}): the kit starts a
    # gateway without each, and expects an order in every channel it can order in created (with those options
    # where named), and one in each named channel without them refused, a 422 naming each option.
    optional_settings: Mapping[str, Mapping[str, Mapping[str, Any]]] = MappingProxyType({})
    # Whether your plugin, on `settings()` alone (every optional setting at its default), confirms each paying
    # notification by query (`info.confirm_notifications`), as your provider's page in docs/ says it does. IOTPay:
    # True (an MD5 notify alone never pays). The kit expects exactly that. None (the default): skipped.
    confirms_notifications: bool | None = None
    timestamp_tolerance: timedelta | None = None  # the window of a provider that signs timestamps (Stripe: 5 min)
    # The provider's own "busy, try again" or system-error answers, as it sends them (its documented error
    # format and code): the kit puts each in place of the answer to every call, and expects "unknown".
    busy_answers: Sequence[ProviderAnswer] = ()
    # The provider's own refusals (a call turned down, nothing done), as its documentation shows them, every field
    # its page calls nullable given as null in one at least: the kit puts each in place of the answer to the call
    # that creates an order, and to the one that makes a refund, and expects a refusal (502 `provider_error`), never
    # ProviderMisconfigured; and in place of a query's and check()'s answer, expects no conclusion (never NotFound).
    # So leave out your "no such order" answer, and the ones that refuse the gateway itself (misconfiguration_answers).
    refusal_answers: Sequence[ProviderAnswer] = ()
    # Your provider's answers to a create whose merchant order number it already has, each shape it may take (IOTPay:
    # 0014 with "mchOrderNo ... already exists" in errCodeDes, or in retMsg): the order under that number may be
    # this very one, so the kit, giving each in answer to a create, expects an outcome that is never not-created
    # (never Refused, NotFound or NotSent): routing would create the order again at another account. Empty: skipped.
    existing_order_answers: Sequence[ProviderAnswer] = ()
    # The reply your provider needs to stop re-sending a notification, as its documentation says (IOTPay: 200
    # `success`): the kit expects it, exactly, for every notification accepted, and never for a refused one.
    accepted_reply: ProviderAnswer | None = None
    # provider_options for channels other than `channel` that require some: {channel: options}. Every
    # declared channel whose required options are here, or need none, gets an order created in it.
    channel_options: Mapping[str, Mapping[str, Any]] = MappingProxyType({})
    # Further (channel, provider_options) pairs, for a channel whose answer changes with its options (IOTPay:
    # WX_JSAPI_BROWSER with qrcode_pay answers a QR code instead of a redirect): the kit orders in each too,
    # wherever it orders in every channel. Empty (the default): each channel is ordered in one way only.
    more_channel_options: Sequence[tuple[str, Mapping[str, Any]]] = ()
    # Settings under which your plugin requires an answer field it otherwise tolerates missing (IOTPay:
    # IOTPAY_REQUIRE_RESPONSE_SIGN=1 requires `sign`), each a StrictSetting: the kit runs a gateway with each.
    strict_settings: Sequence[StrictSetting] = ()
    # Top-level fields your provider's documentation leaves out of a genuine answer that its samples or your
    # simulator give, by operation ("create_order", "refund"; IOTPay: {"create_order": ("sign",), "refund": ("resCode",
    # "sign")}): the kit leaves each out of the genuine answer, signed again, and expects the order created, the refund
    # made as the genuine answer makes it, and another refund given that answer unknown. Empty: skipped.
    optional_answer_fields: Mapping[str, Sequence[str]] = MappingProxyType({})
    # Top-level fields without which your provider's documentation says an answer reports no result, by operation
    # ("create_order", "refund"; IOTPay: a create needs both retCode and resCode), each a name or a tuple of names
    # left out together (IOTPay's refund answer without resCode and without the refund's number and amount): the kit
    # leaves each out of the genuine answer, signed again, and expects the order or refund unknown, never made.
    # Empty: skipped.
    required_answer_fields: Mapping[str, Sequence[str | tuple[str, ...]]] = MappingProxyType({})
    # Top-level fields of a JSON answer your provider may send as null where the order's channel does not use them,
    # by operation ("create_order"; IOTPay: the other channels' codeUrl, qr_code and retParams): in each channel's
    # genuine create answer that leaves one out, the kit puts it in as null, signed again, and expects the order
    # created as before (a field no channel leaves out fails the check). Empty: skipped.
    null_answer_fields: Mapping[str, Sequence[str]] = MappingProxyType({})
    # Top-level fields of a JSON answer holding an object that your provider may also send as the JSON text of that
    # object, by operation ("create_order"; IOTPay: retParams): in each channel's genuine create answer where the
    # field holds an object whose text values reach the payer's next action, the kit sends the object as its JSON
    # text, signed again, and expects those values handed to the payer as before. Empty: skipped.
    json_text_answer_fields: Mapping[str, Sequence[str]] = MappingProxyType({})
    # Orders your provider refuses before any call, each with the field it names (the kit expects a 422 naming
    # it): above all invalid provider_options the core's checks cannot see. Empty (the default): skipped.
    invalid_orders: Sequence[InvalidOrderExample] = ()
    # Refunds your provider's rules refuse, each with the code it must fail with (Stripe: KWD refunds must end in 0,
    # code invalid_amount): the kit expects each refund failed with that code, and nothing refunded. Empty: skipped.
    invalid_refunds: Sequence[InvalidRefundExample] = ()
    # Orders your provider must take that are close to ones it refuses (an option empty or False where the channel
    # takes none): the kit expects each created (201). Empty (the default): skipped.
    valid_orders: Sequence[ValidOrderExample] = ()
    # The length limits of order fields your provider's documentation states (its wire format's): the kit orders
    # at each limit (created) and one character past it (a 422 naming the field). Empty (the default): skipped.
    field_limits: Sequence[FieldLimit] = ()
    # The largest amount (minor units) your provider takes in one order, as its documentation says (Stripe:
    # 99999999): the kit orders, pays and refunds exactly that much, and expects a 422 naming `amount` one unit
    # past it. None (the default): skipped.
    largest_amount: int | None = None
    # The smallest amount (minor units) your provider takes in one order, as its documentation says (IOTPay: 1):
    # the kit orders, pays and refunds exactly that much, and expects a 422 naming `amount` one unit under it.
    # None (the default): skipped.
    smallest_amount: int | None = None
    # The smallest amount (minor units) a signed paid notification of your provider may carry and still be read
    # as an amount (IOTPay: 0; a plugin that refuses any below its provider's minimum charge declares that): the
    # kit expects a notification of it recorded as `mismatch` (a payment that disagrees with the order, visible
    # on the record), and one of a unit less as `malformed`. None (the default): skipped.
    smallest_notified_amount: int | None = None
    # The largest amount (minor units) a signed paid notification of your provider may carry and still be read as
    # an amount, when your plugin reads amounts past any order's limit as amounts that disagree with the order
    # (Stripe: 2**63 - 1, the most a record holds): the kit expects a notification of it recorded as `mismatch`, and
    # one of a unit more as `malformed`. None (the default): skipped.
    largest_notified_amount: int | None = None
    # True when your provider's query finds an order by `merchant_order_no` alone, without its own id (IOTPay:
    # `mchOrderNo`): the kit pays an order whose create answer was lost (`pay_without_notifying`, given an order
    # with no `provider_order_id`) and expects `?refresh=true` to find it paid.
    queries_find_orders_by_reference: bool = False
    # The currencies your provider's documentation says each channel takes, {channel: currencies}: the kit expects
    # `info` to declare exactly those, and creates an order in each. Channels left out are not checked.
    channel_currencies: Mapping[str, Sequence[str]] = MappingProxyType({})
    # True when your provider may send a notification's fields in an `application/x-www-form-urlencoded` body
    # instead of the query string (IOTPay's docs do not say which): the kit then also delivers the harness's
    # query-string notifications that way. False (the default): skipped.
    form_body_notifications: bool = False
    # The `next_action.params` keys your client-side SDK needs to start the payment (Stripe.js: `client_secret`,
    # `publishable_key`): the kit expects each in an `sdk_params` next action of `channel`, non-empty.
    sdk_params: Sequence[str] = ()
    # True when your paid notification says when the payment was made (Stripe: the event's `created`) and
    # `Notification.paid_at` passes it on: the kit delivers one late and expects the order paid at that time.
    notifications_carry_paid_time: bool = False
    # True when your provider's answer to a query about a paid order says when it was paid (IOTPay: `paySuccTime`)
    # and `query_order`'s `Notification.paid_at` passes it on: the kit pays an order at the simulator
    # (`pay_without_notifying`), asks 1.5 seconds later (`?refresh=true`) and expects the order paid at that time.
    queries_carry_paid_time: bool = False
    # The unit your provider gives those paid times in (IOTPay: a millisecond; Stripe: a second). Declared, the kit
    # also expects a paid time no earlier than the order was made (or paid), less that unit and a second. None: not
    # judged.
    paid_time_unit: timedelta | None = None
    # True when your provider sends every notification of an account to each endpoint registered there (Stripe's
    # webhook endpoints): the kit delivers one gateway's notification to another on the same account.
    notifications_reach_every_endpoint: bool = False
    # The setting that holds your provider's API base URL, when your simulator is served over plain http: the
    # kit sets it to the https:// form and carries the calls over plain http itself, so that a plain http
    # address in an answer is what it would be in production, a downgrade. The kit also sets it to a plain http
    # address of another machine, and to the metadata address, and expects start-up to refuse each, naming it.
    api_url_setting: str | None = None
    # The states your provider's answer to a query reports, by the answer's top-level field that holds them, each value
    # with what it means: "paid", "pending" (not paid yet, it may still be) or "closed" (it can never be paid,
    # `Notification.cancelled`). IOTPay: {"status": {0: "pending", 1: "pending", 2: "paid", 3: "paid", 4: "closed",
    # 9: "closed"}}. The kit answers a query about a paid order with the genuine answer, that field set to each value
    # (signed again), and expects query_order to read exactly that meaning. Empty (the default): skipped.
    query_states: Mapping[str, Mapping[Any, str]] = MappingProxyType({})
    # The same for your paid notification: the field (of its query string, form body or JSON body's top level) that
    # holds its state, each value with its meaning (IOTPay: {"status": {"0": "pending", ... "2": "paid" ...}}). The kit
    # sends the genuine paid notification with the field set to each value (`signed_notification`), and expects
    # verify_notification to read it paid only where it means "paid", and a "pending" one never closed. Empty: skipped.
    notification_states: Mapping[str, Mapping[Any, str]] = MappingProxyType({})
    # The states your provider's answer to a refund reports, the same way: {field: {value: meaning}}, each meaning
    # "succeeded" (the money has gone), "pending" (it may still go either way) or "failed" (it never will). Stripe:
    # {"status": {"succeeded": "succeeded", "pending": "pending", "requires_action": "pending", "failed": "failed",
    # "canceled": "failed"}}. The kit answers a refund with the genuine answer, that field set to each value (signed
    # again), and expects RefundResult(), RefundResult(pending=True) or RefundFailed. Empty (the default): skipped.
    refund_states: Mapping[str, Mapping[Any, str]] = MappingProxyType({})
    # The same for your refund notification (`refund_notification`): the field that holds the refund's state (of its
    # query string, form body, or JSON body, where a dotted path names a nested field: Stripe's "data.object.status"),
    # each value with its meaning. The kit sends the genuine refund_notification(order, refund, "pending") with the
    # field set to each value (`signed_notification`), and expects verify_notification to return a RefundNotification
    # with that outcome (a "pending" one may be acknowledged as ignored instead). Empty (the default): skipped.
    refund_notification_states: Mapping[str, Mapping[Any, str]] = MappingProxyType({})
    # Your provider's answers that refuse the gateway itself rather than one request (a wrong key or signature, an
    # unknown merchant), as it sends them (IOTPay: errCode 0013 and 0015): the kit puts each in place of the answer to
    # a create, a refund, a query and `check()`, and expects `ProviderMisconfigured` (operators are alerted, `gateway
    # check` fails). Empty (the default): skipped.
    misconfiguration_answers: Sequence[ProviderAnswer] = ()
    # The `provider_error.code`s your plugin gives a refund the provider reports failed, as your provider's page
    # documents them (Stripe: `refund_failed`, `refund_canceled`): the kit expects one on every such refund.
    failed_refund_codes: Sequence[str] = ()
    # The codes your plugin gives `NotFound`, as its page documents them (IOTPay: ("0112",); Stripe: its own
    # "resource_missing", and the plugin's "no_payment_intent" and "no_such_refund"): the kit expects one on the
    # query of an order the provider refused, and on a NotFound from the query of a refund it refused (with refund
    # and query_refund). Empty: not judged.
    not_found_codes: Sequence[str] = ()
    # The `provider_error.code` your plugin gives an answer it cannot use (not JSON, none of its fields, or about
    # another order), as your provider's page documents it (Stripe: `invalid_response`): the kit expects it there.
    invalid_answer_code: str | None = None
    # The `provider_error.code` your plugin gives an answer with an HTTP status other than 200 (an HTML 404 or 500
    # page), `{status}` standing for the status (IOTPay: "HTTP_{status}"): the kit expects it there.
    status_answer_code: str | None = None
    # The `provider_error.code` your plugin gives an answer whose signature does not verify (IOTPay: "INVALID_SIGN"),
    # as your provider's page documents it: the kit expects it on every signed answer it changes. None: not judged.
    wrong_signature_code: str | None = None
    # The field of your provider's answers that names what kind of object each is (Stripe: `object`, "payment_intent",
    # "refund", "list"), when it has one: the kit expects an answer with it garbled or left out read as unclear.
    answer_kind_field: str | None = None
    # How many refunds one page of your provider's refund listing holds, as your plugin asks for them (Stripe: 100,
    # `limit`), when your plugin finds a refund by listing a payment's refunds: the kit makes one refund more than
    # that on one order, the oldest with its answer lost, and expects reconciliation to find it, not refund it
    # again; with query_refund, it also answers every page of a listing with its first and expects the query
    # unclear, never "no such refund". None (the default): skipped.
    refunds_per_page: int | None = None

    @property
    def plugin_name(self) -> str:
        """The name of the plugin's `gateway.providers` entry point (default: `provider_name`).

        The kit disables every other installed provider plugin, so that their settings (or their
        bugs) never reach the gateway under test. Override it (a class attribute will do) when the
        entry point is named differently from the provider.
        """
        return self.provider_name

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

        The provider must then raise `gateway.plugin.provider.ProviderTimeout`, which the API reports as
        a 504 `provider_timeout`. Example: ``{"MYPROVIDER_TIMEOUT": str(seconds)}``.
        """

    @abstractmethod
    def secrets(self) -> Sequence[str]:
        """Every secret value in `settings` (keys, tokens): none may ever appear in a log line, a
        response body or anything the gateway stores. Must not be empty."""

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
    def unpaid_notification(self, order: Mapping[str, Any]) -> HttpRequest:
        """A genuine, correctly signed notification for `order` saying the payment did *not* succeed.

        Whatever your provider sends for that (IOTPay: status 1, paying; Stripe:
        `payment_intent.payment_failed`; Example Pay: status "failed"), with the order's amount and
        currency. Expected: acknowledged as accepted (the provider stops re-sending), recorded as
        `ignored`, the order still `pending` with no `order.paid` webhook, and a later
        `paid_notification(order)` still applied. A distinct notification from the paid one (its
        own event id, if your provider has event ids).
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

        The simulator must still *carry out* the call, then answer late: what a real time-out looks
        like from the gateway (the provider may have acted). The kit sets the provider's time-out
        with `timeout_settings` shorter than that and expects `POST /v1/orders` to answer 504
        `provider_timeout` with the order left `pending`; and a refund to answer 504 (or 502
        `provider_outcome_unknown`), stay unknown, and be settled `succeeded` by reconciliation's
        retry without the simulator refunding a second time (see `refunded_amount`).
        """

    @abstractmethod
    def fail_next(self, operation: str) -> None:
        """Make the simulator refuse the next `operation` ("create_order" or "refund") with an error
        answer in the provider's own format (its error code and message), as when it rejects a call.

        The kit expects a 502 `provider_error` from the API (a refusal, not an unclear answer), the
        order `failed` or the refund `failed` and never retried, and none of `secrets()` in that
        answer, the log or the gateway's database: a provider's error messages are shown to API
        callers and stored.
        """

    def refunded_amount(self, order: Mapping[str, Any]) -> int:
        """How much the *simulator* has refunded of `order`, in minor units, read from its own records
        (not from the gateway): the sum of every refund it recorded and has not failed.

        Required when the provider declares the refund operation: the kit compares it with the
        amounts refunded through the API, so a provider that sends the wrong amount, or refunds a
        retried refund twice, fails.
        """
        raise NotImplementedError("harness.refunded_amount(order) is not implemented")

    def refunds_at_provider(self, order: Mapping[str, Any]) -> Mapping[str, int]:
        """The refunds the *simulator* recorded for `order`, from its own records: {the provider's own id
        of each refund: its amount in minor units}.

        Implement it when your provider gives each refund an id of its own (IOTPay's `refundOrderId`,
        Stripe's `re_...`): the kit expects each refund the API shows to carry one of these as
        `provider_refund_id`, with the refund's amount, so that a merchant can find it at the provider.
        Left unimplemented, the check is skipped.
        """
        raise NotImplementedError("harness.refunds_at_provider(order) is not implemented")

    def orders_at_provider(self, order: Mapping[str, Any]) -> int | None:
        """How many orders the *simulator* holds for `order`'s `merchant_order_no`, from its own records.

        Used when the plugin sends a create again after losing its answer: the kit then expects one
        order at the provider, not two. None (the default): the kit cannot count them, and checks only
        that the order is never failed.
        """
        return None

    def refund_notification(self, order: Mapping[str, Any], refund: Mapping[str, Any], outcome: str) -> HttpRequest:
        """A correctly signed notification about `refund` (the API's refund JSON: `id`, `amount`,
        `currency`, `provider_refund_id` ...) of `order`, saying it `outcome` ("succeeded", "failed"
        or "pending"), as your provider sends about refunds (Stripe: `refund.updated`).

        Implement it when your provider notifies refund outcomes and `verify_notification` returns a
        `RefundNotification` for them. The kit expects one about a refund the gateway never made to
        change nothing (above all: never to mark the order paid), and one about a refund whose outcome
        is unknown to settle it, once. Left unimplemented, the kit skips these checks.

        With `notifications_reach_every_endpoint` declared, the kit also asks about an `order` with no
        `merchant_order_no` and a `refund` with an empty `id`: a refund no gateway made, of a payment no
        gateway made (one in the provider's dashboard). Build what your provider sends about such a refund
        (Stripe: no metadata, and `payment_intent` null for a charge made without one); the kit expects it
        acknowledged as ignored.
        """
        raise NotImplementedError("harness.refund_notification(order, refund, outcome) is not implemented")

    def known_answers(self) -> Sequence[KnownAnswer]:
        """Notifications signed outside the code under test. The kit requires at least one valid one.

        For each, with its settings: a valid one must pass the signature check (the gateway may still
        refuse it for other reasons, e.g. `unknown_order`); an invalid one must be `bad_signature`.
        """
        return ()

    def event_id(self, request: HttpRequest) -> str | None:
        """The provider's own event id in `request` (one of your notifications), or None when your
        provider's notifications carry none (the default).

        When it has one, the kit expects the gateway to record it with the notification: event ids
        are how a re-sent event is known as one, so `Notification.event_id` must pass it through.
        """
        return None

    # -- what the simulator does on its own side; required with the operations that need them --

    def pay_without_notifying(self, order: Mapping[str, Any]) -> None:
        """Make the simulator take the payment for `order` and send *no* notification (one lost on
        the way), so that only asking the provider can find the payment.

        Required when the provider declares the query operation: the kit then expects
        `GET /v1/orders/<id>?refresh=true`, and reconciliation, to settle the order paid.
        """
        raise NotImplementedError("harness.pay_without_notifying(order) is not implemented")

    def close(self, order: Mapping[str, Any]) -> None:
        """Make the simulator close `order` unpaid for good, as your provider does when the payer
        cancels or the payment fails for good (Stripe: a canceled PaymentIntent). A notification the
        simulator sends about it is welcome but not waited for.

        Required when the provider declares the query operation: the kit expects reconciliation to
        close the order (`expired`, with an `order.expired` webhook) before its expiry time, because
        the provider said it can never be paid (`Notification.cancelled`).
        """
        raise NotImplementedError("harness.close(order) is not implemented")

    def misdirect_next_query(self, order: Mapping[str, Any], other: Mapping[str, Any]) -> None:
        """Make the simulator answer the next query about `order` with what it knows about `other`
        (another order, paid at the simulator), as a mixed-up answer from a provider would.

        Required when the provider declares the query operation: the kit expects the answer to be
        refused (the order stays unpaid), so `query_order` must check that the answer is about the
        order it asked for.
        """
        raise NotImplementedError("harness.misdirect_next_query(order, other) is not implemented")

    def signed_answer(self, answer: dict[str, Any]) -> dict[str, Any]:
        """`answer`, one of your provider's answers (a JSON object, or a form's fields) in which the kit
        changed one field, signed again as your provider signs its answers.

        The kit garbles your simulator's genuine answers field by field (`answer_fields.py`); signed
        again, each reaches what your plugin makes of the field, not only its signature check. Leave
        an answer without a signature as it is. A value the kit puts in may be a JSON number with a
        fraction (2.5, for a whole-number state): sign it as your provider would sign what it received.
        The default returns `answer` unchanged: for providers whose answers carry no signature.
        """
        return answer

    def signed_notification(self, request: HttpRequest) -> HttpRequest:
        """`request`, one of your paid notifications in which the kit changed one field (of its query
        string, form body or JSON body), signed again as your provider signs its notifications: the
        same signature scheme, over what `request` now holds, with the current time where your provider
        signs one.

        The kit garbles your genuine paid notification field by field (`notify_fields.py`); signed
        again, each variant reaches what your plugin makes of the field, not only its signature check.
        The default raises NotImplementedError, and the kit skips that check.
        """
        raise NotImplementedError("harness.signed_notification(request) is not implemented")

    def garble_next(self, operation: str, reply: str) -> None:
        """Make the simulator answer the next `operation` ("create_order", "refund" or, when the
        provider declares the query operation, "query_order") unclearly,
        without acting on it: `reply` is "http_500" (a 500 with no error of the provider's format)
        or "html" (a proxy's HTML error page).

        Such an answer says nothing about whether the provider acted, so the kit expects the order
        or refund to stay unknown (502 `provider_outcome_unknown` or a 504), never failed, and an
        order whose query got such an answer never to be expired by reconciliation.
        """
        raise NotImplementedError("harness.garble_next(operation, reply) is not implemented")

    def pend_next_refund(self) -> None:
        """Make the simulator accept the next refund as *pending*: taken, not yet settled.

        Implement it when your provider can answer a refund that way. The kit expects the API to
        show the refund `pending` (or `unknown`), never `succeeded`, until `settle_pending_refunds`
        and then reconciliation settle it. Leave it unimplemented (the kit then skips the check)
        only when your provider settles every refund in its answer.
        """
        raise NotImplementedError("harness.pend_next_refund() is not implemented")

    def settle_pending_refunds(self, order: Mapping[str, Any], status: str) -> None:
        """Settle every pending refund of `order` at the simulator: `status` is "succeeded" or "failed"."""
        raise NotImplementedError("harness.settle_pending_refunds(order, status) is not implemented")

    def forget_idempotency_keys(self) -> None:
        """Make the simulator forget the idempotency keys of the calls it answered, as your provider does after
        a while (Stripe: keys 24 hours old): the same key then makes a new request.

        Implement it when your provider's idempotency keys lapse. The kit calls it before reconciliation
        retries a refund whose answer was lost, where a retry that counted on the key alone would refund
        twice. Left unimplemented, the kit retries with the keys remembered.
        """
        raise NotImplementedError("harness.forget_idempotency_keys() is not implemented")

    def second_account(self) -> ProviderHarness | None:
        """A harness for a second account at the same provider, beside this one (called after `start`).

        Its `settings` are another account's credentials (another merchant id, another secret)
        against a simulator that knows both accounts (this one's, or one it starts itself: stop it
        in this harness's `stop`); its notifications are signed with its own secret. The kit stores
        it as a provider account and checks that the two never mix: each account's orders are
        created with its credentials, a notification verifies only at its own account's notify URL,
        and queries use the right account. None (the default): the kit skips that check.
        """
        return None

    def pay(self, order: Mapping[str, Any]) -> None:  # noqa: B027 - optional; most simulators need nothing
        """Make the simulator treat `order` as paid, as a payer completing the payment would.

        The refund tests call it, before delivering `paid_notification(order)` themselves; a
        notification your simulator sends as a result is welcome but not waited for. Implement it
        when your simulator refuses to refund an order it has not seen paid.
        """
