"""A merchant's routing rules: the file operators write, checked, and what it says for one order.

Pure: no database, no provider. `parse_rules` checks a document against the merchant's accounts
(a map of name and id to id) and answers `RuleSet`, whose accounts are ids, or raises `RulesError`
naming the rule at fault. `RuleSet.route` answers, for an order's fields, the rule that matched
and the accounts in the order they would be tried.

    {"rules": [
      {"name": "usd-split", "when": {"currency": ["USD"]},
       "split": [{"account": "us-1", "weight": 70}, {"account": "us-2", "weight": 30}]},
      {"name": "cad-failover", "when": {"currency": ["CAD"], "channel": ["WX_APP"]},
       "accounts": ["ca-1", "ca-2"]}
     ],
     "default": ["ca-1"]}

The first rule whose `when` matches decides; `default` (optional) serves orders no rule matched.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_RULES = 100
MAX_ACCOUNTS = 20
MAX_WEIGHT = 1_000_000
MAX_NAME = 80
DEFAULT_RULE = "default"  # the name an order routed by `default` records

_TOP_KEYS = frozenset({"rules", "default"})
_RULE_KEYS = frozenset({"name", "when", "accounts", "split"})
_WHEN_LISTS = ("provider", "currency", "channel")
_WHEN_KEYS = frozenset({*_WHEN_LISTS, "amount_min", "amount_max", "metadata"})
_SPLIT_KEYS = frozenset({"account", "weight"})


class RulesError(ValueError):
    """A rules document that cannot be used; the message names the rule (or `default`) at fault."""


@dataclass(frozen=True)
class Condition:
    """A rule's `when`: every test given must hold (lists: the order's value is one of them)."""

    provider: frozenset[str] | None = None
    currency: frozenset[str] | None = None
    channel: frozenset[str] | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def holds(self, order: Mapping[str, Any]) -> bool:
        for name in _WHEN_LISTS:
            wanted: frozenset[str] | None = getattr(self, name)
            if wanted is not None and order.get(name) not in wanted:
                return False
        amount = order.get("amount")
        if self.amount_min is not None and (not isinstance(amount, int) or amount < self.amount_min):
            return False
        if self.amount_max is not None and (not isinstance(amount, int) or amount > self.amount_max):
            return False
        metadata = order.get("metadata") or {}
        return all(key in metadata and metadata[key] == value for key, value in self.metadata.items())


@dataclass(frozen=True)
class Rule:
    name: str
    when: Condition
    accounts: tuple[str, ...]  # ids, in failover order (for a split: in the file's order)
    weights: tuple[int, ...] | None = None  # a split's weights, one per account

    def try_order(self, sticky_key: str) -> list[str]:
        """The accounts to try: a split's pick first (by weight, the same for the same key), then the rest."""
        if self.weights is None:
            return list(self.accounts)
        picked = _weighted_pick(self.weights, sticky_key)
        return [self.accounts[picked], *(account for i, account in enumerate(self.accounts) if i != picked)]


def _weighted_pick(weights: Sequence[int], sticky_key: str) -> int:
    """The index whose share of the weights the key's hash falls in: the same key, the same index."""
    point = int.from_bytes(hashlib.sha256(sticky_key.encode("utf-8")).digest()[:8], "big") % sum(weights)
    for index, weight in enumerate(weights):
        if point < weight:
            return index
        point -= weight
    raise AssertionError("unreachable: point < sum(weights)")


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    default: tuple[str, ...] = ()

    def route(self, order: Mapping[str, Any], sticky_key: str) -> tuple[str, list[str]] | None:
        """(the rule's name, account ids in try order) for an order's fields; None when nothing applies."""
        for rule in self.rules:
            if rule.when.holds(order):
                return rule.name, rule.try_order(sticky_key)
        if self.default:
            return DEFAULT_RULE, list(self.default)
        return None

    def account_ids(self) -> frozenset[str]:
        return frozenset(self.default).union(*(rule.accounts for rule in self.rules))


def parse_rules(document: Any, accounts: Mapping[str, str], foreign: Mapping[str, str] | None = None) -> RuleSet:
    """The rules of `document`, accounts resolved to ids through `accounts` (the merchant's: id and name
    -> id); `foreign` (other merchants' account ids -> anything) only makes the error say so."""
    if not isinstance(document, dict):
        raise RulesError('rules file: must be a JSON object with "rules" and optionally "default"')
    _no_unknown_keys(document, _TOP_KEYS, "rules file")
    rules_given = document.get("rules", [])
    if not isinstance(rules_given, list) or len(rules_given) > MAX_RULES:
        raise RulesError(f'rules file: "rules" must be a list of at most {MAX_RULES} rules')
    resolver = _Resolver(accounts, foreign or {})
    rules: list[Rule] = []
    names: set[str] = set()
    for position, given in enumerate(rules_given, start=1):
        rule = _rule(given, position, resolver)
        if rule.name in names or rule.name == DEFAULT_RULE:
            raise RulesError(f"rule {rule.name!r}: the name is taken ({DEFAULT_RULE!r} and each rule's are unique)")
        names.add(rule.name)
        rules.append(rule)
    default: tuple[str, ...] = ()
    if "default" in document:
        default = resolver.account_list(document["default"], DEFAULT_RULE)
    if not rules and not default:
        raise RulesError('rules file: give at least one rule or a "default"')
    return RuleSet(tuple(rules), default)


def as_document(rules: RuleSet) -> dict[str, Any]:
    """The stored and shown form: the file's shape, accounts by id (parse_rules reads it back)."""
    listed: list[dict[str, Any]] = []
    for rule in rules.rules:
        entry: dict[str, Any] = {"name": rule.name, "when": _when_document(rule.when)}
        if rule.weights is None:
            entry["accounts"] = list(rule.accounts)
        else:
            entry["split"] = [
                {"account": account, "weight": weight}
                for account, weight in zip(rule.accounts, rule.weights, strict=True)
            ]
        listed.append(entry)
    document: dict[str, Any] = {"rules": listed}
    if rules.default:
        document["default"] = list(rules.default)
    return document


def _when_document(when: Condition) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for name in _WHEN_LISTS:
        values: frozenset[str] | None = getattr(when, name)
        if values is not None:
            document[name] = sorted(values)
    for name in ("amount_min", "amount_max"):
        if getattr(when, name) is not None:
            document[name] = getattr(when, name)
    if when.metadata:
        document["metadata"] = dict(when.metadata)
    return document


@dataclass(frozen=True)
class _Resolver:
    accounts: Mapping[str, str]
    foreign: Mapping[str, str]

    def one(self, reference: Any, where: str) -> str:
        if not isinstance(reference, str) or not reference:
            raise RulesError(f"{where}: an account is named by its id or name (a string)")
        if reference in self.accounts:
            return self.accounts[reference]
        if reference in self.foreign:
            raise RulesError(f"{where}: account {_quoted(reference)} belongs to another merchant")
        raise RulesError(f"{where}: unknown account {_quoted(reference)}")

    def account_list(self, given: Any, name: str) -> tuple[str, ...]:
        where = f"rule {name!r}" if name != DEFAULT_RULE else DEFAULT_RULE
        if not isinstance(given, list) or not given or len(given) > MAX_ACCOUNTS:
            raise RulesError(f"{where}: accounts must be a list of 1 to {MAX_ACCOUNTS} accounts")
        resolved = tuple(self.one(reference, where) for reference in given)
        _no_repeats(resolved, where)
        return resolved


def _rule(given: Any, position: int, resolver: _Resolver) -> Rule:
    if not isinstance(given, dict):
        raise RulesError(f"rule #{position}: must be an object with a name")
    name = given.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or not name.isprintable():
        raise RulesError(f"rule #{position}: needs a name of 1 to {MAX_NAME} printable characters")
    where = f"rule {name!r}"
    _no_unknown_keys(given, _RULE_KEYS, where)
    when = _condition(given.get("when", {}), where)
    if ("accounts" in given) == ("split" in given):
        raise RulesError(f'{where}: give either "accounts" (failover order) or "split" (weights), not both or neither')
    if "accounts" in given:
        return Rule(name, when, resolver.account_list(given["accounts"], name))
    split = given["split"]
    if not isinstance(split, list) or not split or len(split) > MAX_ACCOUNTS:
        raise RulesError(f"{where}: split must be a list of 1 to {MAX_ACCOUNTS} {{account, weight}} objects")
    accounts: list[str] = []
    weights: list[int] = []
    for entry in split:
        if not isinstance(entry, dict):
            raise RulesError(f"{where}: each split entry is an object with an account and a weight")
        _no_unknown_keys(entry, _SPLIT_KEYS, f"{where} split")
        weight = entry.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= MAX_WEIGHT:
            raise RulesError(f"{where}: weights must be positive integers (at most {MAX_WEIGHT})")
        accounts.append(resolver.one(entry.get("account"), where))
        weights.append(weight)
    _no_repeats(accounts, where)
    return Rule(name, when, tuple(accounts), tuple(weights))


def _condition(given: Any, where: str) -> Condition:
    if not isinstance(given, dict):
        raise RulesError(f"{where}: when must be an object")
    _no_unknown_keys(given, _WHEN_KEYS, f"{where} when")
    lists: dict[str, frozenset[str] | None] = {}
    for name in _WHEN_LISTS:
        values = given.get(name)
        if values is None:
            lists[name] = None
        elif not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            raise RulesError(f"{where}: when.{name} must be a list of strings")
        else:
            lists[name] = frozenset(values)
    bounds: dict[str, int | None] = {}
    for name in ("amount_min", "amount_max"):
        value = given.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise RulesError(f"{where}: when.{name} must be a whole number of minor units")
        bounds[name] = value
    low, high = bounds["amount_min"], bounds["amount_max"]
    if low is not None and high is not None and low > high:
        raise RulesError(f"{where}: when.amount_min is above amount_max")
    metadata = given.get("metadata", {})
    if not isinstance(metadata, dict) or not all(isinstance(key, str) for key in metadata):
        raise RulesError(f"{where}: when.metadata must be an object of keys and the values they must have")
    try:
        json.dumps(metadata, allow_nan=False)  # stored as JSON, which has no NaN or Infinity
    except ValueError:
        raise RulesError(f"{where}: when.metadata must be standard JSON (no NaN or Infinity)") from None
    return Condition(
        provider=lists["provider"],
        currency=lists["currency"],
        channel=lists["channel"],
        amount_min=low,
        amount_max=high,
        metadata=dict(metadata),
    )


def _no_unknown_keys(given: Mapping[Any, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(str(key) for key in given if key not in known)
    if unknown:
        raise RulesError(f"{where}: unknown key {_quoted(unknown[0])}; known: {', '.join(sorted(known))}")


def _no_repeats(accounts: Sequence[str], where: str) -> None:
    if len(set(accounts)) != len(accounts):
        raise RulesError(f"{where}: an account is listed twice")


def _quoted(text: str) -> str:
    """A stranger's string in an error line: bounded, and printable (one line stays one line)."""
    shown = text if len(text) <= 80 else text[:77] + "..."
    return repr(shown) if shown.isprintable() else repr(shown.encode("unicode_escape").decode("ascii"))
