"""A verified payment notification about no order: perhaps one of an attempt the order left behind.

Failover only leaves an attempt after an outcome that leaves nothing at the provider, so this should
never happen; if a provider ever gets that wrong, the money is still never lost, and the order is
never silently changed: the attempt records the surplus (gateway.domain.attempts.record_surplus),
the merchant gets `order.overpaid`, and the console lists the order as needing a refund.
"""

from __future__ import annotations

import logging

from gateway.domain.attempts import abandoned_attempt, record_surplus
from gateway.domain.core import Gateway
from gateway.domain.notify_confirm import confirmation
from gateway.plugin.provider import Notification, Provider, Verdict
from gateway.store.rows import StoredOrder

log = logging.getLogger("gateway.notify")


def surplus_payment(
    gateway: Gateway, provider: Provider, notification: Notification, account_id: str
) -> tuple[Verdict, str, str] | None:
    """(verdict, reason, order id) when the notification is about an abandoned attempt; None otherwise."""
    with gateway.db.autocommit_connection() as connection:
        found = abandoned_attempt(connection, provider.name, notification.merchant_order_no)
    if found is None:
        return None
    if not notification.paid:
        return Verdict.IGNORED, f"about abandoned attempt {found.position}, and not a payment", found.id
    if provider.info.confirm_notifications:  # its signature alone records no money, here either
        asked = StoredOrder(
            found.id, found.status, found.amount, found.currency, None, None,
            notification.merchant_order_no, found.client_ip, found.attempt_account_id,
        )  # fmt: skip
        refused = confirmation(provider, asked, notification)
        if refused is not None:
            return refused[0], refused[1], found.id
    with gateway.db.transaction_connection() as connection:
        verdict, reason = record_surplus(connection, found, notification, account_id)
    if verdict is Verdict.APPLIED:
        log.error(
            "%s paid %s %s on abandoned attempt %s of order %s: recorded as surplus, to refund (order.overpaid sent)",
            provider.name, notification.amount, notification.currency, found.position, found.id,
        )  # fmt: skip
    return verdict, reason, found.id
