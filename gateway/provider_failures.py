"""How provider failures and missing capabilities reach API callers."""

from __future__ import annotations

from typing import Any

from gateway.provider import Operation, OutcomeUnknown, Provider, ProviderError
from gateway.views.errors import ApiError


def provider_failure(provider: Provider, exc: ProviderError | OutcomeUnknown, action: str, **extra: Any) -> ApiError:
    """How a provider call that did not succeed reaches the caller.

    - 502 `provider_error`: the provider refused; nothing happened there. Its code and message are kept.
    - 502 `provider_outcome_unknown`: it answered, but not in a way that says whether it acted
      (HTML, a 5xx, a system error code). Its code and message are kept.
    - 504 `provider_timeout` / `provider_unreachable` / `provider_outcome_unknown`: no answer.
    Either unknown case leaves the order or refund pending, for reconciliation to settle.
    """
    name = provider.info.display_name
    if isinstance(exc, ProviderError):
        upstream = {"code": exc.code, "message": exc.message}
        if exc.definite:
            return ApiError(502, "provider_error", f"{name} did not {action}.", provider_error=upstream, **extra)
        return ApiError(
            502,
            "provider_outcome_unknown",
            f"{name}'s answer does not say whether it did {action}; the gateway keeps it pending and settles it later.",
            provider_error=upstream,
            **extra,
        )
    what_happened = {"unreachable": "could not be reached", "timeout": "did not answer in time"}.get(
        exc.reason, "gave no answer the gateway received"
    )
    return ApiError(
        504,
        f"provider_{exc.reason}",
        f"{name} {what_happened}, so whether it did {action} is unknown; "
        "the gateway keeps it pending and settles it later.",
        **extra,
    )


def require_operation(provider: Provider, operation: Operation) -> None:
    if operation not in provider.info.operations:
        raise ApiError(422, "operation_not_supported", f"{provider.info.display_name} does not support {operation}.")
