"""IOTPay configuration from the gateway's settings (IOTPAY_* variables)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.plugin import DEFAULT_READ_TIMEOUT, ConfigError, Settings, is_loopback

log = logging.getLogger(__name__)

NAME = "iotpay"  # the provider's name: /notify/iotpay, /sandbox/iotpay
DEFAULT_API_URL = "https://api.iotpaycloud.com/v1"
DEFAULT_TIMEOUT = DEFAULT_READ_TIMEOUT
VARIABLES = (
    "IOTPAY_MCH_ID",
    "IOTPAY_SECRET_KEY",
    "IOTPAY_API_URL",
    "IOTPAY_JOB_NO",
    "IOTPAY_WX_APP_ID",
    "IOTPAY_TIMEOUT",
    "IOTPAY_REQUIRE_RESPONSE_SIGN",
    "IOTPAY_CONFIRM_NOTIFY_BY_QUERY",
)
REQUIRED = "when any IOTPAY_* variable is set"
CONFIRM = "IOTPAY_CONFIRM_NOTIFY_BY_QUERY"
# Replaced by IOTPAY_REQUIRE_RESPONSE_SIGN: a wrong signature is now always refused, never only logged.
RETIRED = "IOTPAY_REJECT_BAD_RESPONSE_SIGN"

# Made-up credentials shared by the sandbox provider and its simulator. Not secret.
SANDBOX_MCH_ID = "10000701"
SANDBOX_KEY = "sandbox-key-0123456789abcdef0000"
SANDBOX_WX_APP_ID = "wxsandbox00000001"


@dataclass(frozen=True, repr=False)
class IotPayConfig:
    mch_id: str
    secret_key: str
    api_url: str
    job_no: str | None
    wx_app_id: str | None
    timeout: float
    # An answer with a `sign` that does not verify is never believed. One with no `sign` at all is,
    # unless this is set: IOTPay documents signed notifies, not signed answers (see provider.py).
    require_response_sign: bool = False
    sandbox: bool = False
    # A notify pays an order only once a signed query_order says the same (ProviderInfo.confirm_notifications):
    # the MD5 signature is weak, and every payer of a redirect checkout holds a genuinely signed set.
    confirm_notify_by_query: bool = True

    def __repr__(self) -> str:  # the key must never reach a log line through a repr
        return f"IotPayConfig(mch_id={self.mch_id!r}, api_url={self.api_url!r}, sandbox={self.sandbox})"


NOTIFY_URL_MAX = 200  # IOTPay's notifyUrl is String(200) and must not contain '?'


def load_config(settings: Settings) -> IotPayConfig | None:
    """None when nothing IOTPay is configured (the provider stays disabled)."""
    config = _load(settings)
    if config is not None and not config.confirm_notify_by_query:
        log.warning("%s=0: an IOTPay notify's MD5 signature alone can mark an order paid", CONFIRM)
    if config is not None and len(settings.notify_url(NAME)) > NOTIFY_URL_MAX:
        raise ConfigError("GATEWAY_PUBLIC_URL", f"too long: IOTPay's notify URL must fit {NOTIFY_URL_MAX} characters")
    return config


def live_settings(settings: Settings) -> list[str]:
    """The IOTPAY_* credentials set to other than the simulator's, when IOTPAY_API_URL is IOTPay's own
    service (its default, or any host but this machine's): what the sandbox would be ignoring."""
    api_url = settings.get("IOTPAY_API_URL", DEFAULT_API_URL) or DEFAULT_API_URL
    if is_loopback(urlsplit(api_url).hostname):
        return []  # a simulator on this machine: nothing real could be reached with them
    sandbox_values = {"IOTPAY_MCH_ID": SANDBOX_MCH_ID, "IOTPAY_SECRET_KEY": SANDBOX_KEY}
    return [name for name, value in sandbox_values.items() if settings.get(name) not in (None, value)]


def _load(settings: Settings) -> IotPayConfig | None:
    if settings.sandbox:
        from gateway.sandbox import sandbox_url  # outside the sandbox, a worker never imports gateway.sandbox

        return IotPayConfig(
            mch_id=SANDBOX_MCH_ID,
            secret_key=SANDBOX_KEY,
            api_url=f"{sandbox_url(settings, NAME)}/v1",
            job_no="sandbox",
            wx_app_id=settings.get("IOTPAY_WX_APP_ID", SANDBOX_WX_APP_ID),
            timeout=settings.number("IOTPAY_TIMEOUT", DEFAULT_TIMEOUT),
            require_response_sign=True,  # the simulator signs every successful answer
            sandbox=True,
            confirm_notify_by_query=settings.flag(CONFIRM, default=True),
        )
    if settings.get(RETIRED) is not None:
        raise ConfigError(RETIRED, "no longer exists: a wrong sign is always refused; see IOTPAY_REQUIRE_RESPONSE_SIGN")
    if not settings.any_set(VARIABLES):
        return None
    mch_id = settings.required("IOTPAY_MCH_ID", REQUIRED)
    if len(mch_id) > 30:
        raise ConfigError("IOTPAY_MCH_ID", "must be at most 30 characters")
    secret_key = settings.required("IOTPAY_SECRET_KEY", REQUIRED)
    api_url = settings.service_url("IOTPAY_API_URL", DEFAULT_API_URL)
    job_no = settings.get("IOTPAY_JOB_NO")
    if job_no is not None and len(job_no) > 50:
        raise ConfigError("IOTPAY_JOB_NO", "must be at most 50 characters")
    wx_app_id = settings.get("IOTPAY_WX_APP_ID")
    if wx_app_id is not None and len(wx_app_id) > 64:
        raise ConfigError("IOTPAY_WX_APP_ID", "must be at most 64 characters")
    return IotPayConfig(
        mch_id=mch_id,
        secret_key=secret_key,
        api_url=api_url,
        job_no=job_no,
        wx_app_id=wx_app_id,
        timeout=settings.number("IOTPAY_TIMEOUT", DEFAULT_TIMEOUT),
        require_response_sign=settings.flag("IOTPAY_REQUIRE_RESPONSE_SIGN"),
        confirm_notify_by_query=settings.flag(CONFIRM, default=True),
    )
