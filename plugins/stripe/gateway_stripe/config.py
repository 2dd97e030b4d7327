"""Stripe configuration from the gateway's settings (STRIPE_* variables).

Key formats are Stripe's own: secret keys `sk_test_`/`sk_live_` (or restricted `rk_...`),
publishable keys `pk_test_`/`pk_live_`, webhook signing secrets `whsec_`. Checking them at
start-up catches the usual mix-ups (a publishable key where the secret one belongs, a live
key beside a test key) before the first payment, and no message ever shows a value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass

from gateway.plugin import ConfigError, Settings

log = logging.getLogger(__name__)

NAME = "stripe"  # the provider's name: /notify/stripe, /sandbox/stripe
DEFAULT_API_URL = "https://api.stripe.com"
DEFAULT_TIMEOUT = 30.0
VARIABLES = (
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_URL",
    "STRIPE_TIMEOUT",
)
REQUIRED = "when any STRIPE_* variable is set"

# Made-up credentials shared by the sandbox provider and its simulator. Not secret, but still
# treated as secrets (never logged), so the sandbox exercises the same care as production.
SANDBOX_SECRET_KEY = "sk_test_sandbox_4f2a9c1e7b3d5a6f8e0c2b4d"
SANDBOX_PUBLISHABLE_KEY = "pk_test_sandbox_9d1b3f5a7c2e4f6a8b0d1c3e"
SANDBOX_WEBHOOK_SECRET = "whsec_sandbox_6e8a0c2d4f1b3a5c7e9d0f2a"


@dataclass(frozen=True, repr=False)
class StripeConfig:
    secret_key: str
    publishable_key: str
    webhook_secret: str
    api_url: str
    timeout: float
    sandbox: bool = False
    # Which gateway made a PaymentIntent: Stripe sends every event of the account to every
    # endpoint, and staging and production (or two gateways) may share one account.
    instance: str = ""

    @property
    def live(self) -> bool:
        return _mode(self.secret_key) == "live"

    def __repr__(self) -> str:  # the keys must never reach a log line through a repr
        mode = "live" if self.live else "test"
        return f"StripeConfig(api_url={self.api_url!r}, mode={mode}, sandbox={self.sandbox})"


def load_config(settings: Settings) -> StripeConfig | None:
    """None when nothing Stripe is configured (the provider stays disabled)."""
    config = _load(settings)
    if config is None:
        return None
    return dataclasses.replace(config, instance=instance_tag(settings.public_url))


def instance_tag(public_url: str) -> str:
    """A stable, non-secret tag for this deployment, derived from its public URL."""
    return hashlib.sha256(public_url.encode()).hexdigest()[:16]


def live_settings(settings: Settings) -> list[str]:
    """The STRIPE_* keys of live mode (sk_live_, rk_live_, pk_live_): test-mode keys never move money."""
    keys = ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY")
    return [name for name in keys if _mode(settings.get(name) or "") == "live"]


def _load(settings: Settings) -> StripeConfig | None:
    timeout = settings.number("STRIPE_TIMEOUT", DEFAULT_TIMEOUT)
    if settings.sandbox:
        from gateway.sandbox import sandbox_url  # outside the sandbox, a worker never imports gateway.sandbox

        return StripeConfig(
            secret_key=SANDBOX_SECRET_KEY,
            publishable_key=SANDBOX_PUBLISHABLE_KEY,
            webhook_secret=SANDBOX_WEBHOOK_SECRET,
            api_url=sandbox_url(settings, NAME),
            timeout=timeout,
            sandbox=True,
        )
    if not settings.any_set(VARIABLES):
        return None
    secret_key = settings.required("STRIPE_SECRET_KEY", REQUIRED)
    if secret_key.startswith("pk_"):
        raise ConfigError("STRIPE_SECRET_KEY", "is a publishable key (pk_...); use the secret key (sk_... or rk_...)")
    if _mode(secret_key) is None or not secret_key.startswith(("sk_", "rk_")):
        raise ConfigError("STRIPE_SECRET_KEY", "must be a Stripe secret key (sk_test_..., sk_live_... or rk_...)")
    publishable_key = settings.required("STRIPE_PUBLISHABLE_KEY", REQUIRED)
    if not publishable_key.startswith("pk_") or _mode(publishable_key) is None:
        raise ConfigError("STRIPE_PUBLISHABLE_KEY", "must be a Stripe publishable key (pk_test_... or pk_live_...)")
    if _mode(publishable_key) != _mode(secret_key):
        raise ConfigError(
            "STRIPE_PUBLISHABLE_KEY",
            f"is a {_mode(publishable_key)} key but STRIPE_SECRET_KEY is a {_mode(secret_key)} key",
        )
    webhook_secret = settings.required("STRIPE_WEBHOOK_SECRET", REQUIRED)
    if not webhook_secret.startswith("whsec_"):
        raise ConfigError("STRIPE_WEBHOOK_SECRET", "must be the endpoint's signing secret (whsec_...)")
    api_url = settings.service_url("STRIPE_API_URL", DEFAULT_API_URL)
    if api_url.endswith("/v1"):
        raise ConfigError("STRIPE_API_URL", "must be the base URL, without /v1 (e.g. https://api.stripe.com)")
    return StripeConfig(
        secret_key=secret_key,
        publishable_key=publishable_key,
        webhook_secret=webhook_secret,
        api_url=api_url,
        timeout=timeout,
    )


def _mode(key: str) -> str | None:
    parts = key.split("_", 2)  # sk_test_..., pk_live_..., rk_test_...
    return parts[1] if len(parts) == 3 and parts[1] in ("test", "live") else None
