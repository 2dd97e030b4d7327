"""How provider failures and missing capabilities reach callers, as domain errors."""

from __future__ import annotations

from typing import Any

from gateway.domain.errors import GatewayError, Invalid, UpstreamNoAnswer, UpstreamOutcomeUnknown, UpstreamRefused
from gateway.plugin.provider import (
    NoAnswer,
    NotFound,
    NotSent,
    Operation,
    Provider,
    ProviderError,
    ProviderMisconfigured,
    Refused,
)


def provider_failure(provider: Provider, exc: ProviderError, action: str, **details: Any) -> GatewayError:
    """How a provider call that did not succeed reaches the caller.

    - `provider_error` (UpstreamRefused): the provider refused, or has no such thing; nothing
      happened there. Its code and message are kept.
    - `provider_outcome_unknown` (UpstreamOutcomeUnknown): it answered, but not in a way that says
      whether it acted (HTML, a 5xx, a system error code). Its code and message are kept.
    - `provider_timeout` / `provider_unreachable` / `provider_outcome_unknown` (UpstreamNoAnswer).
    Either unknown case leaves the order or refund pending, for reconciliation to settle.
    """
    name = provider.info.display_name
    if isinstance(exc, NoAnswer):
        what_happened = {"unreachable": "could not be reached", "timeout": "did not answer in time"}.get(
            exc.reason, "gave no answer the gateway received"
        )
        return UpstreamNoAnswer(
            f"provider_{exc.reason}",
            f"{name} {what_happened}, so whether it did {action} is unknown; "
            "the gateway keeps it pending and settles it later.",
            **details,
        )
    provider_error = {"code": exc.code, "message": exc.message}
    if is_definite_refusal(exc):
        refused = f"{name} did not {action}."
        return UpstreamRefused("provider_error", refused, provider_error=provider_error, **details)
    return UpstreamOutcomeUnknown(
        "provider_outcome_unknown",
        f"{name}'s answer does not say whether it did {action}; the gateway keeps it pending and settles it later.",
        provider_error=provider_error,
        **details,
    )


def is_definite_refusal(exc: ProviderError) -> bool:
    """Refused, or (for a create or a refund) no such thing at the provider: nothing happened there."""
    return isinstance(exc, (Refused, NotFound))


def created_nothing(exc: ProviderError) -> bool:
    """A failed create_order after which nothing can exist at the provider, so another account may be tried:
    a definite refusal (bad credentials and a disabled merchant included) or a request never sent.
    Never a time-out, an unclear answer or a broken connection: that order may exist and be paid."""
    return is_definite_refusal(exc) or isinstance(exc, NotSent)


def account_failing(exc: ProviderError) -> bool:
    """A failed create_order that says the account, not this order, is what fails: the provider refused
    the gateway itself (ProviderMisconfigured: a wrong key, a disabled merchant) or could not be reached
    at all (NotSent). Only these open an account's breaker: a refusal of one order (its amount, its
    buyer, the provider's risk rules) says nothing about the next one, and counting it would let one
    merchant's rejected orders shut an account for every merchant routed to it."""
    return isinstance(exc, (ProviderMisconfigured, NotSent))


def require_operation(provider: Provider, operation: Operation) -> None:
    if operation not in provider.operations:
        raise Invalid("operation_not_supported", f"{provider.info.display_name} does not support {operation}.")
