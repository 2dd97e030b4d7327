"""What the domain services raise when they cannot do what was asked. No HTTP here.

Each error carries a stable machine-readable `code`, a `message` for people, the fields at
fault (`errors`, dotted for nested ones) and extra values for the caller (`details`, e.g. the
provider's own code and message, or the id of the order left pending). The views layer
(gateway.web.errors) is the one place that turns them into HTTP answers; the CLI prints
their message. Nothing here ever holds configuration, so a secret cannot leak through one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

FieldErrors = Mapping[str, Sequence[str]]


class GatewayError(Exception):
    """Base of every error a domain service raises on purpose."""

    def __init__(self, code: str, message: str, errors: FieldErrors | None = None, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = {name: list(messages) for name, messages in (errors or {}).items()}
        self.details = details


class ResourceNotFound(GatewayError):
    """The thing asked about does not exist (or is not enabled)."""


class Conflict(GatewayError):
    """The request is valid, but the state of what it is about forbids it now."""


class Invalid(GatewayError):
    """The request itself is wrong: fields, values, or an operation the provider does not offer."""


class UpstreamFailure(GatewayError):
    """A provider call did not succeed; `details` may hold `provider_error: {code, message}`."""


class UpstreamRefused(UpstreamFailure):
    """The provider answered and refused: nothing happened there."""


class UpstreamOutcomeUnknown(UpstreamFailure):
    """The provider answered, but not in a way that says whether it acted; settled later."""


class UpstreamNoAnswer(UpstreamFailure):
    """The provider could not be reached or did not answer in time; whether it acted is unknown."""


def invalid_fields(errors: FieldErrors, message: str = "The request has invalid fields.") -> Invalid:
    return Invalid("validation_error", message, errors)
