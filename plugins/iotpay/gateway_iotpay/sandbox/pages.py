"""The simulator's pages for a person: the wallet's checkout (QR code or redirect) and its result.

Stand-ins for what WeChat Pay, Alipay or UnionPay show a payer. Everything the merchant sent is
escaped: a subject is a stranger's text by the time it reaches a page.
"""

from __future__ import annotations

from html import escape

import segno

from gateway.plugin import format_money
from gateway_iotpay.sandbox.store import Order

WALLETS = {"WX": "WeChat Pay", "ALIPAY": "Alipay", "UPI": "UnionPay"}
_STYLE = (
    "body{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#222}"
    ".amount{font-size:2rem;margin:.5rem 0}.note{color:#666;font-size:.9rem}"
    "button{font-size:1.1rem;padding:.6rem 1.6rem;margin-top:1rem}img{display:block;margin:1rem 0}"
)


def qr_image(payload: str) -> str:
    """An <img> of `payload` as a QR code (inline SVG: the page needs nothing else to show it)."""
    code = segno.make(payload, error="m")
    return f'<img id="qr-code" alt="QR code" src="{code.svg_data_uri(scale=5)}">'


def checkout_page(order: Order, qr_payload: str | None) -> str:
    """The wallet's page: a QR code to scan (QR channels) or a payment confirmation (redirect channels)."""
    wallet = wallet_name(order.channel_id)
    if qr_payload is not None:
        how = f"<p>Scan with {escape(wallet)} to pay, or pay here.</p>{qr_image(qr_payload)}"
    else:
        how = f"<p>Pay with {escape(wallet)}.</p>"
    back = '<p class="note">You will be sent back to the shop.</p>' if order.return_url else ""
    body = (
        f"<h1>{escape(wallet)} (sandbox)</h1>"
        f"<p>{escape(order.subject)}</p>"
        f'<p class="amount" id="amount">{_amount(order)}</p>'
        f"{how}"
        f'<form method="post"><button id="pay" type="submit">Pay</button></form>{back}'
        f'<p class="note">IOTPay order {escape(order.pay_order_id)} ({escape(order.channel_id)}). '
        "No real money moves.</p>"
    )
    return _page(f"{wallet} checkout", body)


def paid_page(order: Order) -> str:
    body = (
        f"<h1>{escape(wallet_name(order.channel_id))} (sandbox)</h1>"
        f'<p id="result">Paid {_amount(order)}.</p>'
        '<p class="note">IOTPay now notifies the merchant; the shop shows the order paid once it has.</p>'
    )
    return _page("Paid", body)


def wallet_name(channel_id: str) -> str:
    return WALLETS.get(channel_id.split("_", 1)[0], channel_id)


def _amount(order: Order) -> str:
    return escape(format_money(order.amount, order.currency))


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )
