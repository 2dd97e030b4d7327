"""How provider failures and missing capabilities reach API callers."""

from __future__ import annotations

from typing import Any

from gateway.errors import ApiError
from gateway.provider import Operation, OutcomeUnknown, Provider, ProviderError


def provider_failure(provider: Provider, exc: ProviderError | OutcomeUnknown, action: str, **extra: Any) -> ApiError:
    """502 keeping the provider's own code and message, or 504 when the outcome is unknown."""
    name = provider.info.display_name
    if isinstance(exc, ProviderError):
        return ApiError(
            502,
            "provider_error",
            f"{name} did not {action}.",
            provider_error={"code": exc.code, "message": exc.message},
            **extra,
        )
    what_happened = "could not be reached" if exc.reason == "unreachable" else "did not answer in time"
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
