"""The rules file: what it accepts, what it refuses (naming the rule), and what it decides for an order."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.routing_rules import DEFAULT_RULE, RulesError, RuleSet, as_document, parse_rules

A, B, C = "a" * 8, "b" * 8, "c" * 8  # account ids
ACCOUNTS = {A: A, B: B, C: C, "us-1": A, "us-2": B, "ca-1": C}
FOREIGN = {"f" * 8: "another merchant"}
ORDER = {"channel": "WX_APP", "amount": 1000, "currency": "CAD", "metadata": {}}

ISSUE_EXAMPLE = {
    "rules": [
        {"name": "usd-split", "when": {"currency": ["USD"]},
         "split": [{"account": "us-1", "weight": 70}, {"account": "us-2", "weight": 30}]},
        {"name": "cad-failover", "when": {"currency": ["CAD"], "channel": ["WX_APP", "WX_NATIVE"]},
         "accounts": ["ca-1", "us-1"]},
    ],
    "default": ["us-2"],
}  # fmt: skip


def parsed(document: Any) -> RuleSet:
    return parse_rules(document, ACCOUNTS, FOREIGN)


def test_the_issues_example_routes_by_currency_channel_and_default() -> None:
    rules = parsed(ISSUE_EXAMPLE)
    assert rules.route(ORDER, "order-1") == ("cad-failover", [C, A])
    assert rules.route({**ORDER, "channel": "ALIPAY_QR"}, "order-1") == (DEFAULT_RULE, [B])
    rule, accounts = rules.route({**ORDER, "currency": "USD"}, "order-1") or ("", [])
    assert rule == "usd-split" and sorted(accounts) == [A, B]


@pytest.mark.parametrize(
    ("when", "order", "matches"),
    [
        ({"amount_min": 1000}, {"amount": 1000}, True),
        ({"amount_min": 1001}, {"amount": 1000}, False),
        ({"amount_max": 1000}, {"amount": 1000}, True),
        ({"amount_max": 999}, {"amount": 1000}, False),
        ({"metadata": {"tier": "gold"}}, {"metadata": {"tier": "gold", "x": 1}}, True),
        ({"metadata": {"tier": "gold"}}, {"metadata": {"tier": "silver"}}, False),
        ({"metadata": {"tier": "gold"}}, {"metadata": {}}, False),
        ({"provider": ["iotpay"]}, {"provider": "iotpay"}, True),
        ({"provider": ["iotpay"]}, {}, False),  # an order naming no provider matches no provider test
        ({}, {}, True),
    ],
)
def test_each_test_of_when(when: dict[str, Any], order: dict[str, Any], matches: bool) -> None:
    rules = parsed({"rules": [{"name": "r", "when": when, "accounts": [A]}]})
    assert (rules.route({**ORDER, **order}, "k") is not None) is matches


def test_the_first_matching_rule_wins() -> None:
    rules = parsed(
        {"rules": [{"name": "first", "when": {"currency": ["CAD"]}, "accounts": [A]},
                   {"name": "second", "when": {"currency": ["CAD"]}, "accounts": [B]}]}
    )  # fmt: skip
    assert rules.route(ORDER, "k") == ("first", [A])


def test_no_rule_and_no_default_decides_nothing() -> None:
    assert (
        parsed({"rules": [{"name": "usd", "when": {"currency": ["USD"]}, "accounts": [A]}]}).route(ORDER, "k") is None
    )


def test_a_split_is_sticky_per_order_and_follows_its_weights() -> None:
    rules = parsed({"rules": [{"name": "s", "split": [{"account": A, "weight": 70}, {"account": B, "weight": 30}]}]})
    assert all(rules.route(ORDER, f"order-{n}") == rules.route(ORDER, f"order-{n}") for n in range(50))
    firsts = Counter((rules.route(ORDER, f"order-{n}") or ("", [""]))[1][0] for n in range(2000))
    assert 1250 < firsts[A] < 1550 and firsts[A] + firsts[B] == 2000  # 70% of 2000 = 1400, sd about 20
    assert all(sorted((rules.route(ORDER, f"o{n}") or ("", []))[1]) == [A, B] for n in range(20))  # the other follows


def test_accounts_are_named_by_id_or_name_and_stored_by_id() -> None:
    document = as_document(parsed(ISSUE_EXAMPLE))
    assert document["rules"][1]["accounts"] == [C, A]
    assert document["rules"][0]["split"] == [{"account": A, "weight": 70}, {"account": B, "weight": 30}]
    assert parse_rules(document, {A: A, B: B, C: C}) == parsed(ISSUE_EXAMPLE)


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"rules": [{"name": "r", "accounts": ["nope"]}]}, "rule 'r': unknown account 'nope'"),
        ({"rules": [{"name": "r", "accounts": ["f" * 8]}]}, f"rule 'r': account '{'f' * 8}' belongs to another"),
        ({"rules": [{"name": "r", "wen": {}, "accounts": [A]}]}, "rule 'r': unknown key 'wen'"),
        ({"rules": [{"name": "r", "when": {"colour": []}, "accounts": [A]}]}, "rule 'r' when: unknown key 'colour'"),
        ({"rules": [{"name": "r", "split": [{"account": A, "weight": 0}]}]}, "rule 'r': weights must be positive"),
        ({"rules": [{"name": "r", "split": [{"account": A, "weight": 1.5}]}]}, "rule 'r': weights must be"),
        ({"rules": [{"name": "r", "split": [{"account": A, "weight": True}]}]}, "rule 'r': weights must be positive"),
        ({"rules": [{"name": "r", "split": [{"account": A, "weight": "5"}]}]}, "rule 'r': weights must be positive"),
        ({"rules": [{"name": "r", "accounts": [A], "split": [{"account": A, "weight": 1}]}]}, "rule 'r': give either"),
        ({"rules": [{"name": "r"}]}, "rule 'r': give either"),
        ({"rules": [{"name": "r", "accounts": [A, "us-1"]}]}, "rule 'r': an account is listed twice"),
        ({"rules": [{"name": "r", "accounts": [A]}, {"name": "r", "accounts": [B]}]}, "rule 'r': the name is taken"),
        ({"rules": [{"accounts": [A]}]}, "rule #1: needs a name"),
        ({"rules": [{"name": "r", "when": {"amount_min": 5, "amount_max": 4}, "accounts": [A]}]}, "rule 'r': when."),
        ({"rules": [], "default": ["nope"]}, "default: unknown account 'nope'"),
        ({"rules": []}, "rules file: give at least one rule"),
        ({"rulez": []}, "rules file: unknown key 'rulez'"),
        ([], "rules file: must be a JSON object"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_used_is_refused_naming_the_rule(document: Any, error: str) -> None:
    with pytest.raises(RulesError) as refused:
        parsed(document)
    assert str(refused.value).startswith(error)
    assert "\n" not in str(refused.value)


# -- strangers' files: anything JSON can hold -------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25,
)
account_refs = st.sampled_from([*ACCOUNTS, "nope", "f" * 8])
whens = st.fixed_dictionaries(
    {},
    optional={
        "currency": st.lists(st.sampled_from(["CAD", "USD"]), min_size=1, max_size=2),
        "channel": st.lists(st.sampled_from(["WX_APP", "WX_NATIVE"]), min_size=1, max_size=2),
        "amount_min": st.integers(-1, 2000),
        "amount_max": st.integers(-1, 2000),
        "metadata": st.dictionaries(st.sampled_from(["tier", "x"]), json_values, max_size=2),
        "bogus": json_values,
    },
)
rule_documents = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=10)},
    optional={
        "when": whens,
        "accounts": st.lists(account_refs, max_size=3),
        "split": st.lists(
            st.fixed_dictionaries({"account": account_refs, "weight": json_values | st.integers(-2, 100)}), max_size=3
        ),
    },
)
documents = st.fixed_dictionaries(
    {"rules": st.lists(rule_documents, max_size=3)}, optional={"default": st.lists(account_refs, max_size=3)}
)


@settings(max_examples=300, deadline=None)
@given(document=json_values | documents)
def test_any_document_is_either_refused_in_one_line_or_round_trips(document: Any) -> None:
    try:
        rules = parsed(document)
    except RulesError as refused:
        assert str(refused) and "\n" not in str(refused)
        return
    stored = as_document(rules)
    assert json.loads(json.dumps(stored)) == stored  # stored as JSON, read back the same
    assert parse_rules(stored, {A: A, B: B, C: C}) == rules
    decided = rules.route(ORDER, "some-order")
    assert decided is None or set(decided[1]) <= {A, B, C}
