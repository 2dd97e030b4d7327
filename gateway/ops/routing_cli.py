"""`gateway routing set|show`: a merchant's routing rules, in JSON (docs/routing.md).

`set` checks the file against the merchant's accounts and stores it as a new version; a file that
cannot be used is one `Error:` line naming the rule at fault, and exit status 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.domain.core import Gateway
from gateway.domain.routing_admin import set_rules, show_rules
from gateway.ops.merchants_cli import Group, print_json, with_gateway

routing_cli = Group("routing", help="Routing rules: which of a merchant's accounts each order goes to, and failover.")


@routing_cli.command("set")
@click.option("--merchant", "merchant_id", required=True, help="the merchant's id")
@click.option("--file", "rules_path", required=True, type=click.Path(path_type=Path), help="the rules (JSON)")
@with_gateway
def set_routing(gateway: Gateway, merchant_id: str, rules_path: Path) -> None:
    """Replace a merchant's routing rules with RULES (a new version; accounts by id or name)."""
    try:
        text = rules_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"--file: cannot read {str(rules_path)!r} ({type(exc).__name__})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"rules file: not JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise click.ClickException("rules file: nested too deeply") from None
    version, rules = set_rules(gateway, merchant_id, document)
    print_json({"merchant": merchant_id, "version": version, **rules})


@routing_cli.command("show")
@click.option("--merchant", "merchant_id", required=True, help="the merchant's id")
@with_gateway
def show_routing(gateway: Gateway, merchant_id: str) -> None:
    """The merchant's routing rules in force (accounts by id) and their version; null when it has none."""
    version, rules = show_rules(gateway, merchant_id)
    print_json({"merchant": merchant_id, "version": version, **(rules or {"rules": None})})
