"""The checkout channels the IOTPay plugin offers, and what each one needs and gives the payer.

A public channel is one way to pay: mostly one IOTPay channelId, except that `WX_JSAPI` is two
ways (a mini program through create_order, and WeChat's own browser through payForSubmit), so the
browser one has a name of its own. What IOTPay documents about each is in docs/providers/iotpay.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.plugin import NextActionType
from gateway_iotpay import schemas

# The gateway's next-action types, named as the channel table reads best.
Action = NextActionType

# Public names of fields a channel may require, as the API's 422 names them.
RETURN_URL = "return_url"
OS_TYPE = "provider_options.os_type"
APP_ID = "provider_options.app_id"
OPEN_ID = "provider_options.open_id"


@dataclass(frozen=True)
class Channel:
    name: str  # what the API's `channel` takes
    channel_id: str  # IOTPay's channelId
    operation: str  # the IOTPay call that creates it: create_order or payForSubmit
    action: NextActionType
    required: tuple[str, ...] = ()
    deprecated: str | None = None  # logged on every use

    @property
    def currencies(self) -> tuple[str, ...]:
        return schemas.currencies_of(self.operation, self.channel_id)

    @property
    def takes_return_url(self) -> bool:
        return RETURN_URL in self.required


ALIPAY_MOBILE_DEPRECATION = (
    "IOTPay no longer supports ALIPAY_MOBILE for app SDK integration after 2026-03-10: "
    "take Alipay in apps through ALIPAY_WAP (a redirect) instead"
)

_CREATE = "create_order"
CHANNELS: dict[str, Channel] = {
    channel.name: channel
    for channel in (
        # WX_APP's app id may come from IOTPAY_WX_APP_ID instead; the provider says which applies.
        Channel("WX_APP", "WX_APP", _CREATE, Action.SDK_PARAMS),
        Channel("ALIPAY_MOBILE", "ALIPAY_MOBILE", _CREATE, Action.SDK_PARAMS, deprecated=ALIPAY_MOBILE_DEPRECATION),
        Channel("UPI_APP", "UPI_APP", _CREATE, Action.SDK_PARAMS),
        Channel("WX_NATIVE", "WX_NATIVE", _CREATE, Action.DISPLAY_QR_CODE),
        Channel("ALIPAY_QR", "ALIPAY_QR", _CREATE, Action.DISPLAY_QR_CODE),
        Channel("UPI_QR", "UPI_QR", _CREATE, Action.DISPLAY_QR_CODE),
        Channel("ALIPAY_WAP", "ALIPAY_WAP", _CREATE, Action.REDIRECT_TO_URL, (RETURN_URL, OS_TYPE)),
        Channel("ALIPAY_PC", "ALIPAY_PC", _CREATE, Action.REDIRECT_TO_URL, (RETURN_URL,)),
        Channel("UPI_SEQ", "UPI_SEQ", _CREATE, Action.REDIRECT_TO_URL, (RETURN_URL,)),
        Channel("WX_JSAPI", "WX_JSAPI", _CREATE, Action.MINI_PROGRAM, (OPEN_ID, APP_ID)),
        # provider_options.qrcode_pay turns its redirect into a QR code to open in WeChat (QR_OPTION).
        Channel("WX_JSAPI_BROWSER", "WX_JSAPI", "payForSubmit", Action.REDIRECT_TO_URL, (RETURN_URL,)),
    )
}

# Next actions a channel gives on request besides its own (provider_options.qrcode_pay).
ALSO = {"WX_JSAPI_BROWSER": (Action.DISPLAY_QR_CODE,)}
