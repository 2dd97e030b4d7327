"""Setting and showing a merchant's routing rules: each change is a new version, and bumps the
merchant's config version in the same commit, so every process's cache sees it on its next order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.domain.core import Gateway
from gateway.domain.errors import Invalid, ResourceNotFound
from gateway.domain.routing_rules import RulesError, as_document, parse_rules
from gateway.plugin.clock import utcnow
from gateway.store.models import DEFAULT_MERCHANT_ID, Merchant, ProviderAccount, RoutingRules, storable


def set_rules(gateway: Gateway, merchant_id: str, document: Any) -> tuple[int, dict[str, Any]]:
    """Check `document` against the merchant's accounts and store it as the next version:
    (version, the rules as stored, accounts by id). Invalid, naming the rule, when it cannot be used."""
    if merchant_id == DEFAULT_MERCHANT_ID:
        raise Invalid(
            "validation_error",
            "the default merchant's accounts are the environment's, one per provider: create a merchant to route",
        )
    with gateway.db.transaction() as session:
        merchant = _merchant(session, merchant_id)
        accounts = list(session.scalars(select(ProviderAccount)))
        own = {
            ref: account.id
            for account in accounts
            if account.merchant_id == merchant_id
            for ref in (account.id, account.name)
        }
        foreign = {account.id: account.merchant_id for account in accounts if account.merchant_id != merchant_id}
        try:
            rules = parse_rules(document, own, foreign)
        except RulesError as exc:
            raise Invalid("invalid_rules", str(exc)) from None
        stored = as_document(rules)
        newest = session.scalar(select(func.max(RoutingRules.version)).where(RoutingRules.merchant_id == merchant_id))
        version = (newest or 0) + 1
        session.add(RoutingRules(merchant_id=merchant_id, version=version, document=stored, created_at=utcnow()))
        merchant.config_version = Merchant.config_version + 1  # in SQL: never lost
    return version, stored


def show_rules(gateway: Gateway, merchant_id: str) -> tuple[int | None, dict[str, Any] | None]:
    """(version, rules) of the merchant's rules in force; (None, None) when it has none."""
    with gateway.db.autocommit() as session:
        _merchant(session, merchant_id)
        newest = session.scalars(
            select(RoutingRules)
            .where(RoutingRules.merchant_id == merchant_id)
            .order_by(RoutingRules.version.desc())
            .limit(1)
        ).first()
    if newest is None:
        return None, None
    return newest.version, newest.document


def _merchant(session: Session, merchant_id: str) -> Merchant:
    # Text no database stores (NUL; a surrogate, as argv's undecodable bytes become) names no merchant:
    # answered before any query, which would fail on it.
    merchant = session.get(Merchant, merchant_id) if storable(merchant_id) else None
    if merchant is None:
        raise ResourceNotFound("merchant_not_found", f"No merchant with id {merchant_id!r}.")
    return merchant
