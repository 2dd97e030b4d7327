"""The order list as CSV: the same view as the page, streamed, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from gateway.plugin.clock import as_utc
from gateway.plugin.money import format_major_units

COLUMNS = (
    "id", "created_at", "status", "provider", "channel", "amount_minor", "amount", "currency",
    "refunded_minor", "refunded", "merchant_order_no", "provider_order_id", "merchant_reference",
    "paid_at", "expires_at", "paid_after_expiry", "failure_code",
    "merchant", "merchant_name", "account", "account_name",
)  # fmt: skip

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection, OWASP).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _when(moment: datetime | None) -> str:
    utc = as_utc(moment)
    return "" if utc is None else utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _major(minor: int, currency: str) -> str:
    try:
        return format_major_units(minor, currency)
    except ValueError:  # a currency the gateway does not know: the minor units column still says it all
        return ""


def row(order: Row[Any]) -> list[str]:
    refunded = order.refunded_amount or 0
    values: list[object] = [
        order.id, _when(order.created_at), order.status, order.provider, order.channel,
        order.amount, _major(order.amount, order.currency), order.currency,
        refunded, _major(refunded, order.currency), order.merchant_order_no, order.provider_order_id,
        order.merchant_reference, _when(order.paid_at), _when(order.expires_at),
        "true" if order.paid_after_expiry else "false", order.failure_code,
        order.merchant_id, order.merchant_name or order.merchant_id,
        order.account_id, order.account_name or order.account_id,
    ]  # fmt: skip
    return [safe_cell(value) for value in values]


def lines(orders: Iterable[Row[Any]]) -> Iterator[str]:
    """The header, then one CSV line per order, each written as soon as it is read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for order in orders:
        writer.writerow(row(order))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
