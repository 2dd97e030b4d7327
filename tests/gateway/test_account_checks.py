"""`gateway check` and the stored provider accounts: each enabled one must decrypt with today's keys and
be accepted by its provider, or the check fails naming the account (never a secret)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update

from gateway.domain.credentials import Vault
from gateway.plugin.settings import ConfigError
from gateway.store.models import ProviderAccount
from gateway.testing import ProviderHarness
from gateway.testing.live import LiveServer
from tests.support.merchants import ACCOUNT_SECRET, CREDENTIALS_KEY, account_settings, cli, merchants_app


@pytest.fixture
def build(
    app_factory: Callable[..., Any], neutral_provider: ProviderHarness, gateway_server: LiveServer
) -> Callable[..., Any]:
    return lambda **extra: merchants_app(app_factory, neutral_provider, gateway_server, **extra)


@pytest.fixture
def accounts(build: Callable[..., Any], neutral_provider: Any, tmp_path: Path) -> dict[str, Any]:
    """A merchant with two Example Pay accounts, `main` and `spare`, stored with CREDENTIALS_KEY."""
    app = build()
    merchant = cli(app, "merchants", "create", "--name", "Tea House")["id"]
    made = {}
    for name in ("main", "spare"):
        settings = account_settings(neutral_provider, tmp_path, name)
        made[name] = cli(app, "accounts", "create", "--merchant", merchant, "--provider", "example",
                         "--name", name, "--settings", settings)  # fmt: skip
    return made


def check(app: Any) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["gateway", "check"])
    return result.exit_code, result.output


def change_account(app: Any, account_id: str, **values: Any) -> None:
    with app.extensions["gateway"].db.transaction() as session:
        session.execute(update(ProviderAccount).where(ProviderAccount.id == account_id).values(**values))


def test_check_passes_when_every_enabled_account_decrypts_and_validates(
    build: Callable[..., Any], accounts: dict[str, Any]
) -> None:
    code, output = check(build())
    assert code == 0, output
    assert "ok    accounts: 2 enabled stored account(s) decrypt and pass validation" in output


def test_check_passes_after_a_new_credentials_key_goes_first(
    build: Callable[..., Any], accounts: dict[str, Any]
) -> None:
    code, output = check(build(GATEWAY_CREDENTIALS_KEYS=f"{Fernet.generate_key().decode()},{CREDENTIALS_KEY}"))
    assert code == 0, output


def test_check_fails_naming_each_account_whose_key_was_dropped(
    build: Callable[..., Any], accounts: dict[str, Any]
) -> None:
    new_key = Fernet.generate_key().decode()
    code, output = check(build(GATEWAY_CREDENTIALS_KEYS=new_key))
    assert code == 1
    for name in ("main", "spare"):
        line = f"FAIL  account {accounts[name]['id']} ({name}, example): no key in GATEWAY_CREDENTIALS_KEYS decrypts"
        assert line in output
    assert ACCOUNT_SECRET not in output and CREDENTIALS_KEY not in output and new_key not in output


def test_check_fails_when_no_credentials_key_is_set_but_accounts_are_stored(
    build: Callable[..., Any], accounts: dict[str, Any]
) -> None:
    code, output = check(build(GATEWAY_CREDENTIALS_KEYS=""))
    assert code == 1
    assert f"FAIL  account {accounts['main']['id']} (main, example): GATEWAY_CREDENTIALS_KEYS is not set" in output


def test_check_ignores_a_disabled_account_it_could_not_decrypt(
    build: Callable[..., Any], accounts: dict[str, Any]
) -> None:
    cli(build(), "accounts", "disable", accounts["spare"]["id"])
    app = build()
    change_account(app, accounts["spare"]["id"], settings="not-a-fernet-token")
    code, output = check(app)
    assert code == 0, output
    assert "ok    accounts: 1 enabled stored account(s)" in output


def test_check_fails_for_an_account_whose_provider_is_not_installed(
    build: Callable[..., Any], accounts: dict[str, Any]
) -> None:
    app = build()
    change_account(app, accounts["spare"]["id"], provider="retired")
    code, output = check(app)
    assert code == 1
    assert f"FAIL  account {accounts['spare']['id']} (spare, retired): configure no 'retired' provider" in output
    assert f"account {accounts['main']['id']}" not in output  # the healthy one is not named


def test_check_fails_for_an_account_its_provider_no_longer_accepts(
    build: Callable[..., Any], accounts: dict[str, Any]
) -> None:
    app = build()
    refused = Vault([CREDENTIALS_KEY]).encrypt_settings({"EXAMPLE_SECRET": ACCOUNT_SECRET})  # no API URL
    change_account(app, accounts["main"]["id"], settings=refused)
    code, output = check(app)
    assert code == 1
    assert f"FAIL  account {accounts['main']['id']} (main, example): EXAMPLE_API_URL: is required" in output
    assert ACCOUNT_SECRET not in output


def test_check_fails_when_the_previous_settings_of_a_rotation_no_longer_decrypt(
    build: Callable[..., Any], accounts: dict[str, Any], neutral_provider: Any, tmp_path: Path
) -> None:
    app = build()
    cli(
        app,
        "accounts",
        "rotate",
        accounts["main"]["id"],
        "--settings",
        account_settings(neutral_provider, tmp_path, "new"),
    )
    change_account(app, accounts["main"]["id"], previous_settings=Vault([Fernet.generate_key().decode()]).encrypt("{}"))
    code, output = check(app)
    assert code == 1
    assert (
        f"FAIL  account {accounts['main']['id']} (main, example): "
        "no key in GATEWAY_CREDENTIALS_KEYS decrypts its previous settings" in output
    )


def test_previous_settings_past_their_grace_period_are_not_needed_any_more(
    build: Callable[..., Any], accounts: dict[str, Any], neutral_provider: Any, tmp_path: Path
) -> None:
    """A rotation long ago whose old settings no key decrypts now: nothing verifies with them, so the
    account is healthy, and served."""
    app = build()
    cli(
        app,
        "accounts",
        "rotate",
        accounts["main"]["id"],
        "--settings",
        account_settings(neutral_provider, tmp_path, "new"),
        "--grace-hours",
        "0",
    )
    change_account(app, accounts["main"]["id"], previous_settings=Vault([Fernet.generate_key().decode()]).encrypt("{}"))
    code, output = check(app)
    assert code == 0, output
    row = app.extensions["gateway"].accounts.by_id(accounts["main"]["id"])
    assert row is not None and row.previous is None


def test_a_malformed_credentials_key_stops_start_up_naming_the_variable_not_the_value(
    build: Callable[..., Any],
) -> None:
    with pytest.raises(ConfigError) as refused:
        build(GATEWAY_CREDENTIALS_KEYS=f"{CREDENTIALS_KEY},not-a-fernet-key-at-all")
    assert refused.value.variable == "GATEWAY_CREDENTIALS_KEYS"
    assert "not-a-fernet-key-at-all" not in str(refused.value) and CREDENTIALS_KEY not in str(refused.value)
