"""A merchant's accounts and routing rules, cached per process and checked with one read per order.

Every change to a merchant's accounts or rules bumps `merchants.config_version` in the same
transaction. A process keeps what it loaded under the version it read first, and per order it reads
that one integer (a primary-key read) and reloads only when it moved.

Why a version read rather than a time-to-live: under gunicorn each worker has its own cache, and an
operator who disables an account or changes the rules expects the very next order, whichever worker
takes it, to follow; a TTL would let every worker use the old rules for up to the TTL. The read costs
one indexed lookup of one row, which the account lookup cost anyway before (two reads today: the
accounts, then nothing cached for rules).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select

from gateway.domain.routing_rules import RulesError, RuleSet, parse_rules
from gateway.store.db import Database
from gateway.store.models import MERCHANTS, PROVIDER_ACCOUNTS, RoutingRules

_VERSION = select(MERCHANTS.c.config_version).where(MERCHANTS.c.id == bindparam("merchant_id"))
_ACCOUNTS = (
    select(PROVIDER_ACCOUNTS)
    .where(PROVIDER_ACCOUNTS.c.merchant_id == bindparam("merchant_id"))
    .order_by(PROVIDER_ACCOUNTS.c.created_at, PROVIDER_ACCOUNTS.c.id)
)
_NEWEST_RULES = (
    select(RoutingRules.version, RoutingRules.document)
    .where(RoutingRules.merchant_id == bindparam("merchant_id"))
    .order_by(RoutingRules.version.desc())
    .limit(1)
)


@dataclass(frozen=True)
class MerchantConfig:
    """What routing needs of one merchant, as of `version`."""

    version: int
    accounts: tuple[Any, ...]  # provider_accounts rows, oldest first
    rules: RuleSet | None
    rules_version: int | None

    def account(self, reference: str) -> Any | None:
        """The merchant's account row with this id or name."""
        return next((row for row in self.accounts if reference in (row.id, row.name)), None)

    def by_id(self) -> dict[str, Any]:
        return {row.id: row for row in self.accounts}


class MerchantConfigs:
    """Per process: merchant id -> its MerchantConfig, reloaded when `config_version` moved."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, MerchantConfig] = {}
        self._lock = threading.Lock()
        self.reloads = 0  # how often the cache missed (tests and the report's numbers)

    def current(self, merchant_id: str) -> MerchantConfig:
        """The merchant's config; one primary-key read when the cached copy is current."""
        with self.db.autocommit_connection() as connection:
            version = connection.execute(_VERSION, {"merchant_id": merchant_id}).scalar()
            cached = self._cache.get(merchant_id)
            if cached is not None and cached.version == version:
                return cached
            loaded = _load(connection, merchant_id, int(version or 0))
        with self._lock:
            self._cache[merchant_id] = loaded
            self.reloads += 1
        return loaded


def _load(connection: Any, merchant_id: str, version: int) -> MerchantConfig:
    accounts = tuple(connection.execute(_ACCOUNTS, {"merchant_id": merchant_id}))
    newest = connection.execute(_NEWEST_RULES, {"merchant_id": merchant_id}).first()
    if newest is None:
        return MerchantConfig(version, accounts, None, None)
    ids = {row.id: row.id for row in accounts}
    try:
        rules = parse_rules(newest.document, ids)
    except RulesError:  # stored after checking; an account cannot vanish (none is ever deleted)
        rules = None
    return MerchantConfig(version, accounts, rules, newest.version)
