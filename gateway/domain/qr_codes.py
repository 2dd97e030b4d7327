"""QR codes of display_qr_code next actions, rendered for a checkout page that cannot draw one itself.

The payload text is what counts (a wallet app reads it); the image is a convenience, made on request
and never stored.
"""

from __future__ import annotations

import io

from gateway.domain.errors import Conflict
from gateway.plugin.provider import NextActionType
from gateway.store.models import Order

MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png"}


def qr_code_payload(order: Order) -> str:
    """The text the order's next action asks the payer to scan; Conflict when it asks for something else."""
    action = order.payer_next_action
    if not action or action.get("type") != NextActionType.DISPLAY_QR_CODE or not isinstance(action.get("data"), str):
        raise Conflict("no_qr_code", "This order's next action is not a QR code to display.", order_id=order.id)
    payload: str = action["data"]
    return payload


def render(payload: str, image_format: str, scale: int) -> bytes:
    """`payload` as an SVG or PNG QR code (error correction M: survives a smudged phone screen)."""
    import segno  # on the first image asked for: few requests ever want one (0.8 MB of every worker)

    code = segno.make(payload, error="m")
    out = io.BytesIO()
    code.save(out, kind=image_format, scale=scale, border=4)
    return out.getvalue()
