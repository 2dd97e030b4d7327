"""Confirming a payment notification with the provider's own query before it moves money.

A provider that declares `ProviderInfo.confirm_notifications` does not let its notification's
signature alone pay an order: the notify pipeline asks `query_order` first, with no database
connection held, and applies the payment only when the answer says paid, with the same amount,
currency, account and provider order id as the notification. No answer or an unclear one
(time-out, refusal, an unexpected error) is "not yet": nothing is applied or acknowledged, and
the provider sends the notification again. An answer that contradicts the notification refuses
it, logged as an error: a genuine provider does not contradict itself, a forger does.
"""

from __future__ import annotations

import logging

from gateway.domain.instrument import Record, holding
from gateway.plugin.provider import NotFound, Notification, OrderRef, Provider, ProviderError, Verdict
from gateway.store.rows import StoredOrder

log = logging.getLogger(__name__)


def confirmation(
    provider: Provider, order: StoredOrder, notification: Notification, held: list[Record] | None = None
) -> tuple[Verdict, str] | None:
    """None when the provider's query confirms `notification`'s payment of `order`; else the
    verdict (UNCONFIRMED or MISMATCH) and the reason to record.

    `held`: a list for the query's record (instrument.records_held), for the caller to write with the
    payment; without it the record is written on its own."""
    asked = OrderRef(
        merchant_order_no=order.merchant_order_no,
        # The id the order already had, else the one the notification claims: the query must name it.
        provider_order_id=order.provider_order_id or notification.provider_order_id,
        amount=order.amount,
        currency=order.currency,
        client_ip=order.client_ip,
    )
    try:
        query = provider.query_order if held is None else holding(provider.query_order, held)
        answer = query(asked)
    except NotFound:
        return _contradicted(provider, order, "the provider's query has no such order")
    except ProviderError as exc:  # refused, unclear or unanswered: it says nothing about the payment
        return Verdict.UNCONFIRMED, f"the confirming query gave no answer ({exc.code}): not applied yet"
    except Exception:  # a provider's bug must not pay an order, nor lose the notification
        log.exception("%s query confirming a notify for order %s failed", provider.name, order.id)
        return Verdict.UNCONFIRMED, "the confirming query failed: not applied yet"
    problem = _difference(order, notification, answer)
    return None if problem is None else _contradicted(provider, order, problem)


def _difference(order: StoredOrder, notification: Notification, answer: Notification) -> str | None:
    if answer.merchant_order_no != notification.merchant_order_no:
        return "the provider's query answered about another order"
    if not answer.paid:
        return "the provider's query says the order is not paid"
    if (answer.amount, answer.currency) != (notification.amount, notification.currency):
        return f"the provider's query says {answer.amount} {answer.currency}"
    if answer.account_id is not None and answer.account_id != notification.account_id:
        return "the provider's query names another merchant account"
    expected = notification.provider_order_id or order.provider_order_id
    if expected and answer.provider_order_id != expected:
        return f"the provider's query says provider order {answer.provider_order_id}, not {expected}"
    return None


def _contradicted(provider: Provider, order: StoredOrder, reason: str) -> tuple[Verdict, str]:
    log.error(
        "%s notify for order %s contradicted by the provider's query (forged?): %s", provider.name, order.id, reason
    )
    return Verdict.MISMATCH, reason
