"""IOTPay configuration from the gateway's settings (IOTPAY_* variables)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from gateway.settings import ConfigError, Settings

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.iotpaycloud.com/v1"
DEFAULT_TIMEOUT = 15.0
VARIABLES = (
    "IOTPAY_MCH_ID",
    "IOTPAY_SECRET_KEY",
    "IOTPAY_API_URL",
    "IOTPAY_JOB_NO",
    "IOTPAY_WX_APP_ID",
    "IOTPAY_TIMEOUT",
    "IOTPAY_REJECT_BAD_RESPONSE_SIGN",
)

# Made-up credentials shared by the sandbox provider and its simulator. Not secret.
SANDBOX_MCH_ID = "10000701"
SANDBOX_KEY = "sandbox-key-0123456789abcdef0000"
SANDBOX_WX_APP_ID = "wxsandbox00000001"
SANDBOX_MOUNT = "/sandbox/iotpay"


@dataclass(frozen=True, repr=False)
class IotPayConfig:
    mch_id: str
    secret_key: str
    api_url: str
    job_no: str | None
    wx_app_id: str | None
    timeout: float
    reject_bad_response_sign: bool
    sandbox: bool = False

    def __repr__(self) -> str:  # the key must never reach a log line through a repr
        return f"IotPayConfig(mch_id={self.mch_id!r}, api_url={self.api_url!r}, sandbox={self.sandbox})"


NOTIFY_URL_MAX = 200  # IOTPay's notifyUrl is String(200) and must not contain '?'


def load_config(settings: Settings) -> IotPayConfig | None:
    """None when nothing IOTPay is configured (the provider stays disabled)."""
    config = _load(settings)
    if config is not None and len(settings.notify_url("iotpay")) > NOTIFY_URL_MAX:
        raise ConfigError("GATEWAY_PUBLIC_URL", f"too long: IOTPay's notify URL must fit {NOTIFY_URL_MAX} characters")
    return config


def _load(settings: Settings) -> IotPayConfig | None:
    if settings.sandbox:
        return IotPayConfig(
            mch_id=SANDBOX_MCH_ID,
            secret_key=SANDBOX_KEY,
            api_url=f"{settings.public_url}{SANDBOX_MOUNT}/v1",
            job_no="sandbox",
            wx_app_id=settings.get("IOTPAY_WX_APP_ID", SANDBOX_WX_APP_ID),
            timeout=settings.number("IOTPAY_TIMEOUT", DEFAULT_TIMEOUT),
            reject_bad_response_sign=True,
            sandbox=True,
        )
    if not any(settings.get(name) for name in VARIABLES):
        return None
    mch_id = _required(settings, "IOTPAY_MCH_ID")
    if len(mch_id) > 30:
        raise ConfigError("IOTPAY_MCH_ID", "must be at most 30 characters")
    secret_key = _required(settings, "IOTPAY_SECRET_KEY")
    api_url = (settings.get("IOTPAY_API_URL", DEFAULT_API_URL) or "").rstrip("/")
    if not api_url.startswith(("https://", "http://")):
        raise ConfigError("IOTPAY_API_URL", "must be an http(s) URL")
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
        reject_bad_response_sign=settings.flag("IOTPAY_REJECT_BAD_RESPONSE_SIGN"),
    )


def sandbox_state_path(settings: Settings) -> str:
    return str(Path(settings.instance_path) / "iotpay-sandbox.sqlite3")


def _required(settings: Settings, name: str) -> str:
    value = settings.get(name)
    if value is None:
        raise ConfigError(name, "is required when any IOTPAY_* variable is set")
    return value
