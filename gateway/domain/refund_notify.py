"""A verified notification about a refund (`RefundNotification`), applied as a refund query's answer is.

The refund it names must be one of the order's, with the same amount and currency; the provider's
outcome then wins (`settle_refund`: a contradiction of a settled refund is recorded and stays
visible as its discrepancy), the same outcome again changes nothing, and `pending` only marks an
unsettled refund pending. It never touches the order's payment: no refund notification marks an
order paid.
"""

from __future__ import annotations

from sqlalchemy import select

from gateway.domain.core import Gateway
from gateway.domain.refunds import UNSETTLED, mark_pending, settle_refund
from gateway.plugin.provider import Provider, RefundNotification, RefundResult, Verdict
from gateway.store.models import Order, Refund, default_account_id


def apply_refund_notification(
    gateway: Gateway, provider: Provider, report: RefundNotification, account_id: str | None = None
) -> tuple[Verdict, str | None, str | None]:
    """(verdict, reason, order id) for `report`, already applied when the verdict is APPLIED.

    `account_id`: the provider account whose notify URL verified it (None: the environment's); a
    refund of another account's order is never settled by it."""
    with gateway.db.transaction() as session:
        order = session.scalar(
            select(Order).where(Order.provider == provider.name, Order.merchant_order_no == report.merchant_order_no)
        )
        if order is None:
            return Verdict.UNKNOWN_ORDER, f"no order {report.merchant_order_no} for this refund", None
        expected = account_id or default_account_id(provider.name)
        if (order.account_id or default_account_id(provider.name)) != expected:
            return Verdict.MISMATCH, "the order belongs to another provider account", order.id
        refund = session.get(Refund, report.refund_id)
        if refund is None or refund.order_id != order.id:
            return Verdict.UNKNOWN_ORDER, f"order {order.id} has no refund {report.refund_id}", order.id
        if (refund.amount, refund.currency) != (report.amount, report.currency):
            reason = (
                f"refund {refund.id} is {refund.amount} {refund.currency}, "
                f"the notification says {report.amount} {report.currency}"
            )
            return Verdict.MISMATCH, reason, order.id
        recorded, order_id = refund.status, order.id
    if report.outcome == "pending":
        if recorded not in UNSETTLED:
            return Verdict.IGNORED, f"refund {report.refund_id} is already {recorded}", order_id
        mark_pending(gateway, report.refund_id, RefundResult(report.provider_refund_id, pending=True))
        return Verdict.IGNORED, f"refund {report.refund_id} pending", order_id
    if recorded == report.outcome:
        return Verdict.DUPLICATE, f"refund {report.refund_id} already {recorded}", order_id
    settle_refund(
        gateway,
        report.refund_id,
        succeeded=report.outcome == "succeeded",
        result=RefundResult(report.provider_refund_id),
        code=report.failure_code or "refund_failed",
        message=report.failure_message,
    )
    return Verdict.APPLIED, f"refund {report.refund_id} {report.outcome}", order_id
