"""Immutable views of stored objects handed to lifecycle hooks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class OrderSnapshot:
    id: str
    provider: str
    channel: str
    amount: int
    currency: str
    status: str
    merchant_order_no: str
    provider_order_id: str | None
    merchant_reference: str | None
    metadata: Mapping[str, Any]
    created_at: datetime
    paid_at: datetime | None
    refunded_amount: int = 0
    paid_after_expiry: bool = False
