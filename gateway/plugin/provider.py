"""The provider contract: what the core asks of every payment provider plugin.

A provider turns typed requests into signed calls to its payment service, and inbound
HTTP requests from that service into verified `Notification`s. It never touches Flask or
the database: the core owns orders, storage, HTTP and the notify pipeline.
Optional operations raise `NotSupported`.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from marshmallow import Schema

from gateway.plugin import iso4217
from gateway.plugin.clock import SYSTEM_CLOCK, Clock

CONTRACT_VERSION = 2
"""The version of the provider contract (this module) and of the hook specs (gateway.plugin.hookspecs).

A plugin states the version it was built for, as a module (or plugin object) attribute:
``GATEWAY_CONTRACT_VERSION = 2``. Start-up refuses a plugin that states none, or one this gateway
does not support (`SUPPORTED_CONTRACT_VERSIONS`), naming it. Version 2: explicit outcomes
(Refused, NotFound, OutcomeUnknown, NoAnswer), pending refunds, `query_refund`, operations declared
by implementing them, currency exponents checked against ISO 4217.
"""
SUPPORTED_CONTRACT_VERSIONS = frozenset({CONTRACT_VERSION})

DEPRECATED_CONTRACT_VERSIONS: Mapping[int, str] = {}
"""Older contract versions still loaded, with a warning: version -> the gateway release that stops loading it.

The deprecation policy (docs/plugins/contract.md): when a release ships contract version N+1, it
still loads plugins built for N, with a warning, and the next minor release refuses them. No older
version is in its window today (version 1 was refused before the policy existed).
"""

# -- what the core hands to a provider ---------------------------------------------------------


@dataclass(frozen=True)
class OrderDraft:
    """An order as the API caller described it, before anything is stored or sent."""

    channel: str
    amount: int  # minor units
    currency: str
    subject: str
    body: str
    client_ip: str
    options: Mapping[str, Any]  # provider_options, already loaded by `Provider.options_schema`
    # Where the payer's browser comes back after a redirect checkout (https; the core checked it).
    # Coming back proves nothing: only a verified notification or a query marks the order paid.
    return_url: str | None = None


@dataclass(frozen=True)
class OrderRequest:
    """An order the core has stored and now asks the provider to create."""

    draft: OrderDraft
    order_id: str
    merchant_order_no: str  # the core's unique reference for this order at the provider
    notify_url: str


@dataclass(frozen=True)
class OrderRef:
    """A stored order, as the provider knows it."""

    merchant_order_no: str
    provider_order_id: str | None
    amount: int
    currency: str
    client_ip: str


@dataclass(frozen=True)
class RefundRequest:
    """Refund `amount` of a paid order.

    `refund_id` is the gateway's id for this refund. Every retry of the same refund carries
    the same id, and the provider must make sure a retry can never refund twice (for example
    by deriving the refund number it sends from it, or by sending it as an idempotency key).
    """

    refund_id: str
    order: OrderRef
    amount: int
    currency: str
    reason: str | None


@dataclass(frozen=True)
class InboundRequest:
    """An HTTP request from a provider to `/notify/<provider>`, exactly as received.

    The whole request is given (not a parsed dict) so that providers which sign a raw
    JSON body in a header, or sign query and form fields, can each verify what they need.
    """

    method: str
    path: str
    headers: Mapping[str, str]  # names in lower case
    query: Sequence[tuple[str, str]]
    body: bytes
    remote_addr: str | None = None


# -- what a provider hands back -----------------------------------------------------------------


class NextActionType(enum.StrEnum):
    """What the payer's client does next with a created order, whatever the provider."""

    SDK_PARAMS = "sdk_params"  # hand `params` to the wallet's or provider's mobile SDK
    DISPLAY_QR_CODE = "display_qr_code"  # show `data` as a QR code for the payer's wallet app to scan
    REDIRECT_TO_URL = "redirect_to_url"  # send the payer's browser to `url`
    MINI_PROGRAM = "mini_program"  # call WeChat's wx.requestPayment with `params` inside a mini program


# The one field each type carries.
_NEXT_ACTION_FIELD = {
    NextActionType.SDK_PARAMS: "params",
    NextActionType.DISPLAY_QR_CODE: "data",
    NextActionType.REDIRECT_TO_URL: "url",
    NextActionType.MINI_PROGRAM: "params",
}


@dataclass(frozen=True)
class NextAction:
    """The payer's next step, with exactly the field its `type` needs."""

    type: NextActionType
    data: str | None = None  # display_qr_code: the text to encode
    url: str | None = None  # redirect_to_url: an http(s) address
    params: Mapping[str, Any] | None = None  # sdk_params, mini_program

    def __post_init__(self) -> None:
        wanted = _NEXT_ACTION_FIELD[NextActionType(self.type)]
        given = {name for name in ("data", "url", "params") if getattr(self, name) is not None}
        if given != {wanted}:
            raise ValueError(f"a {self.type} next action carries {wanted} only, not {sorted(given)}")
        if self.url is not None and not self.url.startswith(("https://", "http://")):
            raise ValueError("a redirect_to_url next action needs an http(s) url")

    def as_dict(self) -> dict[str, Any]:
        field = _NEXT_ACTION_FIELD[NextActionType(self.type)]
        value = getattr(self, field)
        return {"type": str(self.type), field: dict(value) if field == "params" else value}


@dataclass(frozen=True)
class CreatedOrder:
    """The provider's answer to a created order.

    `next_action` says what the payer does next; a provider that gives only `pay_params` (the
    original contract) gets an sdk_params next action made of them. `pay_params` stays on orders
    whose next action is sdk_params, for clients written before next actions existed.
    `provider_order_id` may be None when the provider names its order only in the notification.
    """

    provider_order_id: str | None
    pay_params: Mapping[str, Any] | None = None
    next_action: NextAction | None = None

    def __post_init__(self) -> None:
        if self.next_action is None:
            if self.pay_params is None:
                raise ValueError("a created order needs a next_action or pay_params")
            object.__setattr__(self, "next_action", NextAction(NextActionType.SDK_PARAMS, params=self.pay_params))
        elif self.pay_params is None and self.next_action.type is NextActionType.SDK_PARAMS:
            object.__setattr__(self, "pay_params", self.next_action.params)


@dataclass(frozen=True)
class Notification:
    """A verified notification. Only `paid=True` ones can move an order to paid."""

    merchant_order_no: str
    amount: int
    currency: str
    paid: bool
    account_id: str | None = None
    provider_order_id: str | None = None
    event_id: str | None = None  # providers whose notifications carry an event id set it (1 to 255 characters)
    paid_at: datetime | None = None
    cancelled: bool = False  # the provider closed the order unpaid (it can never be paid)


@dataclass(frozen=True)
class RefundRef:
    """A stored refund, as the provider knows it: what `query_refund` asks about."""

    refund_id: str  # the gateway's id, the same one every `RefundRequest` for this refund carried
    provider_refund_id: str | None  # the provider's id, when an earlier answer gave one
    order: OrderRef
    amount: int
    currency: str


@dataclass(frozen=True)
class RefundResult:
    """A refund the provider accepted: settled (`pending=False`), or accepted and still pending.

    A pending refund is shown as `pending` by the API and settles later: through `query_refund` when
    the provider implements it, else through reconciliation retrying `refund` with the same refund
    id (which must then answer the refund's current state), or by hand. Give `provider_refund_id`
    with a pending answer: it is how the gateway tells an accepted refund from one never answered.
    """

    provider_refund_id: str | None
    pending: bool = False


@dataclass(frozen=True)
class RefundNotification:
    """A verified notification about a refund, not a payment: the provider's word on one refund.

    `verify_notification` returns it for the provider's events about a refund's outcome. The core
    applies it as it applies a `query_refund` answer: the refund named by `refund_id` (the gateway's
    id, which the provider echoes) of the order `merchant_order_no`, with the same amount and
    currency, is settled `succeeded` or `failed`, or marked `pending`; the provider's word wins over
    what was recorded, a contradiction stays visible as the refund's discrepancy, and the same
    outcome twice changes nothing. It never marks an order paid.
    """

    merchant_order_no: str
    refund_id: str
    amount: int
    currency: str
    outcome: str  # "succeeded", "failed" or "pending"
    provider_refund_id: str | None = None
    event_id: str | None = None
    failure_code: str | None = None  # with outcome "failed": the provider's code and message
    failure_message: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in REFUND_OUTCOMES:
            raise ValueError(f"RefundNotification.outcome must be one of {REFUND_OUTCOMES}, not {self.outcome!r}")


REFUND_OUTCOMES = ("succeeded", "failed", "pending")


class Verdict(enum.StrEnum):
    """What the notify pipeline concluded about one notification; recorded with it."""

    APPLIED = "applied"  # moved the order to paid (a RefundNotification: settled the refund)
    DUPLICATE = "duplicate"  # the order was already paid; acknowledged again
    IGNORED = "ignored"  # verified, but not a payment (e.g. a non-paid status)
    BAD_SIGNATURE = "bad_signature"
    MALFORMED = "malformed"
    UNKNOWN_ORDER = "unknown_order"
    MISMATCH = "mismatch"  # account, amount or currency differ from the stored order (or the provider's query)
    UNCONFIRMED = "unconfirmed"  # a payment the provider's query did not (yet) confirm; the provider re-sends it

    @property
    def accepted(self) -> bool:
        """True when the provider should stop re-sending this notification."""
        return self in (Verdict.APPLIED, Verdict.DUPLICATE, Verdict.IGNORED)


@dataclass(frozen=True)
class Acknowledgement:
    """The HTTP reply the provider expects to a notification."""

    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


# -- errors -------------------------------------------------------------------------------------


class InvalidOrder(ValueError):
    """The caller's order cannot be sent to this provider; `errors` maps public field -> messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        super().__init__("invalid order")
        self.errors = {name: list(messages) for name, messages in errors.items()}


class NotificationRejected(Exception):
    """The inbound request is not a notification the provider can vouch for."""

    def __init__(self, verdict: Verdict, reason: str) -> None:
        super().__init__(reason)
        self.verdict = verdict
        self.reason = reason


class ProviderError(Exception):
    """A provider call that did not succeed. Raise one of its four kinds, never this class itself:
    the kind is what the gateway may conclude, so it must say what happened at the provider.

    `code` and `message` are the provider's own when it gave them (they reach API callers as
    `provider_error`), else the plugin's; neither may ever hold a secret. The core treats an
    exception of no kind (this class itself) as `OutcomeUnknown`, the one conclusion that is safe.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Refused(ProviderError):
    """The provider answered and did not act: nothing happened there.

    For `create_order`, the order is recorded `failed`; for a refund's first attempt, the refund
    is `failed` (a later attempt's refusal proves nothing: an earlier one may have gone through).
    Authentication, signature, merchant-configuration and validation refusals are refusals too,
    and for a query they conclude nothing about the order: reconciliation leaves the record as it
    is and logs an ERROR for an operator.
    """


class ProviderMisconfigured(Refused):
    """The provider refused the gateway itself rather than this request: a wrong key or signature, an
    unknown merchant, missing permissions. Nothing happened there, and every call will fail alike until
    the configuration is fixed, so operators are alerted (an ERROR log line and the
    `gateway_provider_configuration_errors_total` metric) and `gateway check` names it. For a query it
    concludes nothing about the order, like any refusal."""


class RefundFailed(Refused):
    """The provider reports this very refund (found by its refund id) as failed.

    Unlike a refusal of the request, which after an unclear earlier attempt proves nothing (the
    earlier attempt may have gone through), this settles the refund as failed on any attempt.
    """


class NotFound(ProviderError):
    """From a query (`query_order`, `query_refund`): the provider has no such order or refund.

    The only answer that lets reconciliation expire an unpaid order, or fail a refund left unknown,
    so raise it only when the provider says so in as many words (an error code for "order does not
    exist", an HTTP 404 for the resource), never for an error about the request or the account.
    From `create_order` or `refund` it counts as a refusal.
    """


class OutcomeUnknown(ProviderError):
    """The provider may or may not have acted: it answered, but not in a way that says which
    (HTML, a 5xx, a system error code, a malformed answer or one about another order).

    The order or refund stays pending for reconciliation to settle; nothing is concluded.
    """

    reason = "outcome_unknown"

    def __init__(self, code: str = "outcome_unknown", message: str = "the answer does not say what happened") -> None:
        super().__init__(code, message)


class NoAnswer(OutcomeUnknown):
    """No answer at all: the provider could not be reached, or did not answer in time."""

    def __init__(self, message: str = "no answer was received") -> None:
        super().__init__(self.reason, message)
        self.args = (message,)  # str(exc) is the message alone: the reason is the class


class ProviderTimeout(NoAnswer):
    reason = "timeout"


class ProviderUnreachable(NoAnswer):
    reason = "unreachable"


class NotSent(ProviderUnreachable):
    """No connection was ever made (refused, no such host, the connect time-out), so nothing was sent:
    the provider cannot have acted. Raise it only when that is certain; a connection that broke after
    the request went out is a plain `ProviderUnreachable`. From `create_order` it is a not-created
    outcome, after which the core may try the order at another account (docs/routing.md)."""


class NotSupported(Exception):
    """The provider does not offer this optional operation."""


# -- the contract -------------------------------------------------------------------------------


class Operation(enum.StrEnum):
    """What a provider offers beyond creating orders and verifying notifications (`Provider.operations`).

    The core refuses an operation a provider does not offer, before calling it. Each is declared
    once: the first three by implementing their method, the other two (which are no method) in
    `ProviderInfo.capabilities`.
    """

    QUERY = "query"  # implement Provider.query_order
    REFUND = "refund"  # implement Provider.refund (of the whole amount)
    QUERY_REFUND = "query_refund"  # implement Provider.query_refund
    PARTIAL_REFUND = "partial_refund"  # capability: a refund of less than the order's amount
    MULTIPLE_REFUNDS = "multiple_refunds"  # capability: more than one refund on the same order


QUERY, REFUND, QUERY_REFUND, PARTIAL_REFUND, MULTIPLE_REFUNDS = tuple(Operation)
CAPABILITIES = frozenset({PARTIAL_REFUND, MULTIPLE_REFUNDS})
# The operations a provider offers by overriding the method that performs them.
_METHODS = {QUERY: "query_order", REFUND: "refund", QUERY_REFUND: "query_refund"}


@dataclass(frozen=True)
class NotifyPolicy:
    """How the provider's notifications behave, for people operating the gateway."""

    signature: str  # how they are signed, e.g. "MD5 over every field, merchant key"
    acknowledgement: str  # what the provider needs back to stop re-sending
    retries: str  # what it does when it does not get it


@dataclass(frozen=True)
class ChannelInfo:
    """One channel of a provider, as a checkout needs to know it before creating an order."""

    name: str
    # The next-action types its orders get: the first by default, the others through provider_options.
    next_actions: tuple[NextActionType, ...] = (NextActionType.SDK_PARAMS,)
    currencies: tuple[str, ...] = ()  # empty: every currency of the provider
    # Public field names an order on it must carry, e.g. "return_url" or "provider_options.open_id".
    required_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderInfo:
    """What a provider declares about itself; `/v1/providers` shows it. Checked when it is built:
    a mistake here is a ValueError, which stops start-up with a ConfigError naming the plugin."""

    name: str  # the one place the provider's name is stated: /notify/<name>, orders' `provider`
    display_name: str
    channels: tuple[str, ...]
    # ISO-4217 code -> minor-unit exponent, as the provider counts it. Each must agree with ISO 4217
    # (gateway.plugin.iso4217) unless `exponent_notes` says why the provider counts that currency otherwise.
    currencies: Mapping[str, int]
    capabilities: frozenset[Operation] = frozenset()  # PARTIAL_REFUND, MULTIPLE_REFUNDS: no method says them
    notifications: NotifyPolicy | None = None
    # True: a notification that would pay an order is applied only once `query_order` confirms it
    # (paid, same amount, currency and provider order id), asked before the write transaction. For a
    # provider whose signature alone should not move money (a weak one, or signed sets payers see);
    # it needs QUERY. No answer, or an unclear one, leaves the payment unapplied and unacknowledged, so
    # the provider sends it again; an answer that contradicts the notification refuses it (mismatch).
    confirm_notifications: bool = False
    sandbox: bool = False
    exponent_notes: Mapping[str, str] = field(default_factory=dict)  # code -> why it differs from ISO 4217

    # Details of some or all `channels`; a channel without them is an sdk_params channel in every currency.
    channel_info: tuple[ChannelInfo, ...] = ()

    def __post_init__(self) -> None:
        for code, exponent in self.currencies.items():
            problem = iso4217.disagreement(code, exponent)
            if problem and not (self.exponent_notes.get(code) or "").strip():
                raise ValueError(
                    f"provider {self.name!r}: {problem}; if the provider really counts it so, "
                    f"say why in ProviderInfo.exponent_notes[{code!r}]"
                )
        methods = sorted(str(operation) for operation in self.capabilities if operation not in CAPABILITIES)
        if methods:
            raise ValueError(
                f"provider {self.name!r}: {', '.join(methods)} in capabilities: an operation that is a method "
                "is declared by implementing that method, and only there"
            )
        stray = sorted(set(self.exponent_notes) - set(self.currencies))
        if stray:
            raise ValueError(f"provider {self.name!r}: exponent_notes for currencies it does not take: {stray}")
        for channel in self.channel_info:
            if channel.name not in self.channels:
                raise ValueError(f"provider {self.name!r}: channel_info for undeclared channel {channel.name!r}")
            if not channel.next_actions or not set(channel.currencies) <= set(self.currencies):
                raise ValueError(f"provider {self.name!r}: channel {channel.name!r} needs next actions and currencies")

    def channel(self, name: str) -> ChannelInfo:
        """The details of a declared channel (defaults for one the provider gave none for)."""
        found = next((channel for channel in self.channel_info if channel.name == name), ChannelInfo(name))
        return found if found.currencies else replace(found, currencies=tuple(self.currencies))


class Provider(ABC):
    """One payment provider. Instances are built once per app by `gateway_register_providers`."""

    info: ProviderInfo
    # The gateway's clock: compare signed timestamps and replay windows with `self.clock.now()` (or
    # `.timestamp()`), never `time.time()`. Tests and the conformance kit set a `FixedClock` here.
    clock: Clock = SYSTEM_CLOCK

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def operations(self) -> frozenset[Operation]:
        """What this provider offers: the optional methods it implements, and `info.capabilities`."""
        own = type(self)
        implemented = {op for op, method in _METHODS.items() if getattr(own, method) is not getattr(Provider, method)}
        return frozenset(implemented) | self.info.capabilities

    @property
    def account_id(self) -> str | None:
        """The merchant account orders are created under (a merchant id), stored with each order.

        A notification or query answer naming another account never settles the order.
        """
        return None

    def options_schema(self) -> Schema | None:
        """Schema for the `provider_options` object of `POST /v1/orders` (None: refuse any)."""
        return None

    def validate_order(self, draft: OrderDraft) -> None:  # noqa: B027 - optional; nothing to check by default
        """Raise `InvalidOrder` for anything the provider would refuse (lengths, required options).

        Called before anything is stored; the core has already checked channel and currency
        against `info`.
        """

    @abstractmethod
    def create_order(self, request: OrderRequest) -> CreatedOrder:
        """Create the order at the provider. Raises Refused, OutcomeUnknown or NoAnswer."""

    @abstractmethod
    def verify_notification(self, request: InboundRequest) -> Notification | RefundNotification:
        """Verify and parse a notification; raise NotificationRejected when it is not genuine.

        A notification about a refund's outcome is a `RefundNotification`; anything else is a `Notification`."""

    @abstractmethod
    def acknowledge(self, verdict: Verdict) -> Acknowledgement:
        """The reply for a notification the pipeline judged `verdict` (sent after the commit)."""

    def query_order(self, order: OrderRef) -> Notification:
        """Ask the provider for the order's current state (optional: implement it to offer QUERY).

        The answer goes through the same checks and transition as a notification. Raises NotFound
        when the provider has no such order (the only error that lets reconciliation expire it),
        Refused when it turned the query down (credentials, signature, merchant), OutcomeUnknown or
        NoAnswer otherwise.
        """
        raise NotSupported(f"{self.name} does not support order query")

    def check(self) -> str:
        """Make one harmless, signed call to the provider's API, for `gateway check` (optional).

        It proves that the API is reachable and accepts the gateway's credentials or signature,
        and changes nothing there (e.g. a query of an order that does not exist, whose "no such
        order" answer could only come after the signature was checked). Return a short
        description of what answered; raise Refused, OutcomeUnknown or NoAnswer like any call.
        """
        raise NotSupported(f"{self.name} offers no connection check")

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund part or all of a paid order (optional: implement it to offer REFUND; declare
        PARTIAL_REFUND and MULTIPLE_REFUNDS in `info.capabilities` when the provider allows them).

        Must be idempotent on `request.refund_id`, and a retry must answer the refund's current
        state. Return `RefundResult(pending=True)` when the provider accepted the refund but has not
        settled it. Raise Refused only when the provider certainly did not refund (honoured on a
        refund's first attempt only), RefundFailed when the provider reports this very refund as
        failed (honoured on any attempt); anything unclear is OutcomeUnknown or NoAnswer, and the
        refund stays unknown until settled.
        """
        raise NotSupported(f"{self.name} does not support refunds")

    def query_refund(self, refund: RefundRef) -> RefundResult:
        """The refund's current state at the provider (optional: implement it to offer QUERY_REFUND).

        Reconciliation asks this instead of retrying `refund`. Return a RefundResult (pending or
        not); raise RefundFailed when the provider reports the refund failed, NotFound when it has
        no such refund (no attempt reached it: reconciliation then sends the refund as a first
        attempt, whose refusal fails it), and Refused, OutcomeUnknown or NoAnswer otherwise (the
        refund is left as it is).
        """
        raise NotSupported(f"{self.name} does not support refund queries")
