"""`gateway check`: is this deployment able to work? Configuration, database, each provider's API.

Prints one line per check and what is enabled, never a secret; exits 1 when anything failed,
2 when the configuration itself is refused (gateway.ops.command, which builds the app, says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import click
from sqlalchemy.exc import SQLAlchemyError

from gateway.domain.account_checks import check_stored_accounts
from gateway.domain.core import Gateway
from gateway.plugin.provider import NoAnswer, NotSupported, OutcomeUnknown, ProviderError
from gateway.store import database_state, routing_queries


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


def check_database(gateway: Gateway) -> Result:
    try:
        state = database_state.schema_state(gateway.db)
    except SQLAlchemyError as exc:
        return Result("database", False, database_state.describe(exc))
    return Result("database", state.up_to_date, f"{gateway.db.engine.dialect.name}, {state.words()}")


def check_providers(gateway: Gateway) -> list[Result]:
    if not gateway.providers:
        return [Result("providers", False, "none enabled: set a provider's variables (docs/operations.md, Settings)")]
    results = []
    for name, provider in gateway.providers.items():
        label = f"provider {name}"
        try:
            results.append(Result(label, True, provider.check()))
        except NotSupported:
            results.append(Result(label, True, "enabled; offers no connection check"))
        except NoAnswer as exc:  # before its base classes: it is the one with a hint
            hint = (
                "; in sandbox mode the simulator runs inside `gateway run`: start it first"
                if gateway.settings.sandbox
                else ""
            )
            results.append(Result(label, False, f"no answer ({exc.reason}){hint}"))
        except OutcomeUnknown as exc:
            results.append(Result(label, False, f"unclear answer: {exc.code} {exc.message}"))
        except ProviderError as exc:  # Refused (ProviderMisconfigured among them), or NotFound
            results.append(Result(label, False, f"refused: {exc.code} {exc.message}"))
    return results


def check_accounts(gateway: Gateway) -> list[Result]:
    """Every enabled stored account decrypts and its provider accepts its settings; one line per failure."""
    try:
        health = check_stored_accounts(gateway)
    except SQLAlchemyError as exc:
        return [Result("accounts", False, f"not checked: {database_state.describe(exc)}")]
    if not health.checked:
        return [Result("accounts", True, "no enabled account stored in the database")]
    if not health.problems:
        return [Result("accounts", True, f"{health.checked} enabled stored account(s) decrypt and pass validation")]
    return [
        Result(f"account {problem.account_id} ({problem.name}, {problem.provider})", False, problem.problem)
        for problem in health.problems
    ]


def check_breakers(gateway: Gateway) -> Result:
    """The account breakers, as the attempts every worker recorded show them (gateway.domain.breaker)."""
    settings = gateway.breakers.settings
    rule = f"{settings.failures} failures of an account in a row open one for {settings.cooldown:g} s"
    try:
        states = routing_queries.breaker_states(gateway.db, settings.failures, settings.cooldown)
    except SQLAlchemyError as exc:
        return Result("account breakers", False, database_state.describe(exc))
    opened = [state for state in states if state.is_open]
    if not opened:
        return Result("account breakers", True, f"none open ({rule})")
    named = ", ".join(f"{state.account_id} ({state.consecutive_failures} failures)" for state in opened)
    return Result("account breakers", False, f"open: {named}; orders skip them ({rule})")


def enabled(gateway: Gateway) -> list[str]:
    from gateway.domain import webhooks
    from gateway.web.console.access import admin_keys

    settings = gateway.settings
    lines = [f"sandbox mode: {'on (no real money moves)' if settings.sandbox else 'off'}"]
    for name, provider in gateway.providers.items():
        default = " (default)" if name == gateway.default_provider else ""
        info = provider.info
        lines.append(
            f"provider {name}{default}: channels {', '.join(info.channels)}; currencies {', '.join(info.currencies)}; "
            f"operations {', '.join(sorted(provider.operations)) or 'none'}"
        )
    lines.append(f"API keys: {len(settings.names('GATEWAY_API_KEYS')) or 'none (/v1 is open)'}")
    admins = admin_keys(settings)
    lines.append(f"console: {', '.join(key.who for key in admins) if admins else 'off (GATEWAY_ADMIN_KEYS unset)'}")
    metric_keys = settings.names("GATEWAY_METRICS_KEYS")
    lines.append(f"/metrics: {'on, ' + str(len(metric_keys)) + ' key(s)' if metric_keys else 'off'}")
    lines.append(f"merchant webhooks: {'on' if webhooks.load_config(settings) else 'off'}")
    lines.append(f"log format: {settings.get('GATEWAY_LOG_FORMAT', 'text')}")
    return lines


def report(gateway: Gateway) -> None:
    """Print every check and what is enabled; exit 1 when a check failed."""
    database = check_database(gateway)
    results = [Result("configuration", True, "accepted"), database, *check_providers(gateway)]
    if database.ok:  # otherwise its line already says why nothing stored can be read
        results += check_accounts(gateway)
        results.append(check_breakers(gateway))
    for result in results:
        click.echo(result.line())
    click.echo("")
    for line in enabled(gateway):
        click.echo(line)
    if not all(result.ok for result in results):
        raise click.exceptions.Exit(1)
