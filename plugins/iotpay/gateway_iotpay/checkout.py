"""One IOTPay order per channel: the request it sends, and the payer's next step read from the answer.

Reading the answer is where an unclear outcome is caught: IOTPay said SUCCESS but the code or the
URL the payer needs is missing or unusable. The order may exist at IOTPay, so that is never a
refusal (the order would be marked failed while it can still be paid) but an unknown outcome.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.plugin import NextAction, OrderDraft, OutcomeUnknown
from gateway_iotpay.channels import Action, Channel
from gateway_iotpay.config import IotPayConfig

DEVICE = "WEB"
MAX_QR_PAYLOAD = 2048  # a QR code holds at most 2953 bytes; real payloads are short URLs
MAX_URL = 4096

# wx.requestPayment's arguments, which IOTPay's payParams for a mini program must carry.
MINI_PROGRAM_KEYS = ("timeStamp", "nonceStr", "package", "signType", "paySign")

# Where each family's answer keeps what the payer needs, the documented place first.
QR_FIELDS = {
    "WX_NATIVE": ("code_url", "qr_code"),
    "ALIPAY_QR": ("qr_code", "code_url"),
    "UPI_QR": ("qr_code", "code_url"),
}
REDIRECT_KEYS = {"ALIPAY_PC": "alipayUrl", "ALIPAY_WAP": "alipayUrl", "UPI_SEQ": "unionpayUrl"}


@dataclass(frozen=True)
class Checkout:
    provider_order_id: str | None  # payForSubmit's answer is not documented to carry payOrderId
    payer: NextAction


def order_params(
    channel: Channel,
    draft: OrderDraft,
    config: IotPayConfig,
    *,
    merchant_order_no: str,
    notify_url: str,
) -> dict[str, Any]:
    """The unsigned request for `channel`, without empty values (they are neither sent nor signed)."""
    options = draft.options
    params: dict[str, Any] = {
        "mchId": config.mch_id,
        "mchOrderNo": merchant_order_no,
        "channelId": channel.channel_id,
        "currency": draft.currency,
        "amount": draft.amount,
        "clientIp": wire_client_ip(draft.client_ip),
        "device": options.get("device") or DEVICE,
        "notifyUrl": notify_url,
        "subject": draft.subject,
        "body": draft.body,
        "param1": options.get("param1"),
        "param2": options.get("param2"),
        "remarks": options.get("remarks"),
        "jobNo": config.job_no,
    }
    if channel.takes_return_url:
        params["returnUrl"] = draft.return_url
    if channel.operation == "create_order":
        params["osType"] = options.get("os_type")
        params["extra"] = _extra(channel, options, config, merchant_order_no)
    elif options.get("qrcode_pay"):
        params["qrcode_pay"] = "1"
    return {name: value for name, value in params.items() if value not in (None, "")}


def _extra(channel: Channel, options: Mapping[str, Any], config: IotPayConfig, merchant_order_no: str) -> str | None:
    # A JSON *string* inside the JSON; the signature covers exactly this text.
    if channel.channel_id == "WX_APP":
        extra = {"type": "apppay", "appId": options.get("app_id") or config.wx_app_id}
    elif channel.channel_id == "WX_NATIVE":
        # WeChat's product id for a native-pay QR: ours to choose; the order's own reference by default.
        extra = {"productId": options.get("product_id") or merchant_order_no}
    elif channel.channel_id == "WX_JSAPI":
        extra = {"openId": options.get("open_id"), "type": "minipay", "appId": options.get("app_id")}
    else:
        return None
    return json.dumps(extra, ensure_ascii=False, separators=(",", ":"))


def payer_action(
    channel: Channel, answer: Mapping[str, Any], *, qrcode_pay: bool = False, secure: bool = True
) -> NextAction:
    """The payer's next step from a SUCCESS answer; OutcomeUnknown when it is not there. `secure`: IOTPay
    is called over https, so the pages it sends the payer to are https too (a simulator on this machine
    over plain http answers plain http ones)."""
    if channel.operation == "payForSubmit":
        if qrcode_pay:
            return NextAction(Action.DISPLAY_QR_CODE, data=_qr_payload(channel, answer.get("code_url"), "code_url"))
        return NextAction(Action.REDIRECT_TO_URL, url=_url(channel, answer.get("url"), "url", secure))
    if channel.action is Action.DISPLAY_QR_CODE:
        wire_names = {"code_url": "codeUrl", "qr_code": "qr_code"}
        found = next((name for name in QR_FIELDS[channel.channel_id] if answer.get(name) is not None), None)
        if found is None:
            raise _unclear(channel, f"no {wire_names[QR_FIELDS[channel.channel_id][0]]}")
        return NextAction(Action.DISPLAY_QR_CODE, data=_qr_payload(channel, answer[found], wire_names[found]))
    if channel.action is Action.REDIRECT_TO_URL:
        key = REDIRECT_KEYS[channel.channel_id]
        return NextAction(
            Action.REDIRECT_TO_URL, url=_url(channel, (answer.get("ret_params") or {}).get(key), key, secure)
        )
    params = answer.get("pay_params")
    if not isinstance(params, dict) or not params:
        raise _unclear(channel, "no payParams")
    if channel.action is Action.MINI_PROGRAM:
        # wx.requestPayment takes each as text; anything else (a number, an object, blank) cannot start a payment.
        missing = [key for key in MINI_PROGRAM_KEYS if not isinstance(params.get(key), str) or not params[key].strip()]
        if missing:
            raise _unclear(channel, f"payParams without {', '.join(missing)} as text for wx.requestPayment")
    return NextAction(channel.action, params=params)


def _qr_payload(channel: Channel, value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _unclear(channel, f"no {name}")
    if len(value) > MAX_QR_PAYLOAD or not value.isprintable():
        raise _unclear(channel, f"a {name} that cannot be a QR code")
    return value


def _url(channel: Channel, value: Any, name: str, secure: bool) -> str:
    if not isinstance(value, str) or not value:
        raise _unclear(channel, f"no {name}")
    # Only web addresses: anything else (javascript:, a wallet scheme) must not reach a browser's location.
    if not value.startswith(("https://", "http://")) or len(value) > MAX_URL or not value.isprintable() or " " in value:
        raise _unclear(channel, f"a {name} that is not a web address")
    # From IOTPay over https, a plain http page is a downgrade on the way: the payer's session would cross
    # the network in clear text.
    if secure and not value.startswith("https://"):
        raise _unclear(channel, f"a plain http {name} from an API served over https")
    return value


def _unclear(channel: Channel, what: str) -> OutcomeUnknown:
    return OutcomeUnknown("INVALID_RESPONSE", f"IOTPay's {channel.name} answer has {what}")


def wire_client_ip(address: str) -> str:
    """IOTPay's clientIp holds 32 characters, fewer than a full IPv6 address (39).

    An IPv6 address that does not fit is sent as its /64 network, which still says where the
    payer is (what the field is for) instead of refusing IPv6 payers. Anything else goes as is,
    and the wire schema refuses it if too long.
    """
    if len(address) <= 32:
        return address
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False).network_address)
    return address
