"""Plugins: discovery through `gateway.providers` entry points, disabling, broken plugins, and the
hooks a plugin implements.

The out-of-tree example (examples/gateway-example-provider) and a few deliberately broken
distributions are installed for real, by pip, into directories of their own (never into the
test environment), then put on sys.path so `importlib.metadata` finds their entry points.
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from gateway import PROJECT_NAME, hookimpl
from gateway.domain import plugin_manager
from gateway.domain.hooks import COLLECTED, Hooks
from gateway.domain.reconcile import reconcile
from gateway.plugin import hookspecs
from gateway.plugin.clock import utcnow
from gateway.plugin.provider import CONTRACT_VERSION
from gateway.plugin.settings import ConfigError
from gateway.plugin.snapshots import OrderSnapshot
from gateway.testing import ProviderConformance, ProviderHarness
from gateway.testing.live import LiveServer
from tests.support.flows import create_order, new_key, paid_order, wait_for

EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "examples" / "gateway-example-provider"
EXAMPLE_SECRET = "whsec_tests_3e9f1b2c7d"


def pip_install(target: Path, *projects: Path) -> Path:
    """Install local projects into `target` with pip, offline and without touching this environment.

    pip builds in place, so each project is copied first: the checkout keeps no build/ or egg-info,
    and none left there by a manual install can leak stale files into this one.
    """
    sources = target.parent / f"{target.name}-sources"
    leftovers = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    copies = [shutil.copytree(project, sources / project.name, ignore=leftovers) for project in projects]
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    result = subprocess.run(
        [*command, "--target", str(target), *map(str, copies)], capture_output=True, text=True, timeout=300
    )
    hint = "building needs setuptools>=70.1 in the test environment (the `test` extra)"
    assert result.returncode == 0, f"pip install failed ({hint}):\n{result.stdout}{result.stderr}"
    return target


# -- the example plugin, installed -------------------------------------------------------------


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pip_install(tmp_path_factory.mktemp("example-site"), EXAMPLE_PROJECT)


@pytest.fixture
def example_installed(example_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # syspath_prepend also calls importlib.invalidate_caches(), so entry_points() sees the new dist.
    monkeypatch.syspath_prepend(str(example_site))


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """Discovery does not depend on the database: SQLite only (overrides conftest's both-databases)."""
    return sqlite_url


@pytest.fixture
def example_simulator(example_installed: None, tmp_path: Path) -> Iterator[Any]:
    from gateway_example_provider.sandbox import ExampleSimulator

    simulator = ExampleSimulator(
        EXAMPLE_SECRET, str(tmp_path / "example-simulator.sqlite3"), retry_delays=(0.05, 0.1, 0.2, 0.4)
    )
    server = LiveServer(simulator)
    simulator.url = server.url  # type: ignore[attr-defined]
    yield simulator
    server.stop()
    simulator.close()


@pytest.fixture
def example_app(app_factory: Callable[..., Any], example_simulator: Any) -> Any:
    """The gateway with IOTPay and Example Pay both configured, served over HTTP."""
    return app_factory(EXAMPLE_SECRET=EXAMPLE_SECRET, EXAMPLE_API_URL=example_simulator.url, EXAMPLE_TIMEOUT="2")


def example_order(client: Any, amount: int = 1250, currency: str = "USD") -> dict[str, Any]:
    body = {"provider": "example", "channel": "wallet", "amount": amount, "currency": currency}
    response = client.post("/v1/orders", json={**body, "subject": "Tea", "body": "Sencha"})
    assert response.status_code == 201, response.get_json()
    order: dict[str, Any] = response.get_json()
    return order


def pay_at(base_url: str, order: dict[str, Any]) -> None:
    response = requests.post(f"{base_url}/pay", json={"id": order["provider_order_id"]}, timeout=5)
    assert response.status_code == 202, response.text


def provider_names(app: Any) -> list[str]:
    return [provider["name"] for provider in app.test_client().get("/v1/providers").get_json()]


def status_is(client: Any, order_id: str, status: str) -> dict[str, Any] | None:
    order: dict[str, Any] = client.get(f"/v1/orders/{order_id}").get_json()
    return order if order["status"] == status else None


def test_an_installed_plugin_is_served_by_v1_providers_beside_iotpay(example_app: Any) -> None:
    """The example's gateway_register_providers, found through its `gateway.providers` entry point."""
    providers = {p["name"]: p for p in example_app.test_client().get("/v1/providers").get_json()}

    assert {"example", "iotpay"} <= set(providers)
    example = providers["example"]
    assert example["display_name"] == "Example Pay"
    assert example["channels"] == ["wallet"]
    assert example["currencies"] == [{"code": "USD", "exponent": 2}, {"code": "JPY", "exponent": 0}]
    assert example["operations"] == ["multiple_refunds", "partial_refund", "query", "refund"]
    assert "X-Example-Signature" in example["notifications"]["signature"]
    assert example["sandbox"] is False
    assert example_app.extensions["gateway"].plugin_manager.has_plugin("example")


def test_an_installed_plugin_works_end_to_end_over_real_http(example_app: Any, example_simulator: Any) -> None:
    client = example_app.test_client()
    order = example_order(client, 1250, "USD")
    assert order["status"] == "pending"
    assert order["pay_params"] == {"payment_id": order["provider_order_id"]}
    assert client.get(f"/v1/orders/{order['id']}?refresh=true").get_json()["status"] == "pending"  # query_order

    pay_at(example_simulator.url, order)  # the simulator POSTs a signed notification to /notify/example
    paid = wait_for(lambda: status_is(client, order["id"], "paid"), what="the example order to be paid")
    assert paid["paid_at"] is not None

    first = client.post(f"/v1/orders/{order['id']}/refunds", json={"amount": 250}, headers=new_key())
    second = client.post(f"/v1/orders/{order['id']}/refunds", json={"amount": 1000}, headers=new_key())
    assert (first.status_code, second.status_code) == (201, 201), (first.get_json(), second.get_json())
    assert [first.get_json()["status"], second.get_json()["status"]] == ["succeeded", "succeeded"]
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "refunded"
    seen = requests.get(f"{example_simulator.url}/payments/{order['provider_order_id']}", timeout=5).json()
    assert (seen["refunded"], seen["notified"]) == ("12.50", 1)


def test_an_installed_plugin_takes_zero_decimal_currencies(example_app: Any) -> None:
    order = example_order(example_app.test_client(), 500, "JPY")
    assert (order["amount"], order["currency"]) == (500, "JPY")


def test_a_notification_with_a_wrong_signature_is_rejected_by_the_plugin(example_app: Any) -> None:
    client = example_app.test_client()
    order = example_order(client)
    event = {"event": "evt_1", "id": order["provider_order_id"], "reference": order["merchant_order_no"]}
    body = json.dumps({**event, "amount": "12.50", "currency": "USD", "status": "paid"})

    response = client.post("/notify/example", data=body, headers={"X-Example-Signature": "0" * 64})

    assert (response.status_code, response.get_data(as_text=True)) == (400, "rejected")
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "pending"


def test_gateway_register_sandboxes_mounts_the_plugins_simulator_in_sandbox_mode(
    example_installed: None, app_factory: Callable[..., Any], gateway_server: LiveServer
) -> None:
    app = app_factory(GATEWAY_SANDBOX="1")
    client = app.test_client()
    providers = {p["name"]: p for p in client.get("/v1/providers").get_json()}
    assert providers["example"]["sandbox"] is True

    order = example_order(client)  # the provider calls /sandbox/example on the gateway itself
    pay_at(f"{gateway_server.url}/sandbox/example", order)

    wait_for(lambda: status_is(client, order["id"], "paid"), what="the sandbox order to be paid")


@pytest.mark.parametrize(
    ("config", "variable"),
    [({"EXAMPLE_SECRET": EXAMPLE_SECRET}, "EXAMPLE_API_URL"), ({"EXAMPLE_API_URL": "http://x"}, "EXAMPLE_SECRET")],
)
def test_partial_plugin_configuration_stops_start_up_naming_the_variable_never_the_secret(
    example_installed: None, app_factory: Callable[..., Any], config: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        app_factory(**config)
    assert raised.value.variable == variable
    assert EXAMPLE_SECRET not in str(raised.value)


def test_an_unconfigured_plugin_is_loaded_but_registers_no_provider(
    example_installed: None, app_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO"):
        app = app_factory()
    assert "example" not in provider_names(app)
    assert "example: disabled" in caplog.text


def test_a_plugin_disabled_by_configuration_is_not_loaded(
    app_factory: Callable[..., Any], example_simulator: Any
) -> None:
    config = {"EXAMPLE_SECRET": EXAMPLE_SECRET, "EXAMPLE_API_URL": example_simulator.url}
    app = app_factory(GATEWAY_DISABLED_PLUGINS="example", **config)
    client = app.test_client()

    assert "example" not in provider_names(app)
    assert not app.extensions["gateway"].plugin_manager.has_plugin("example")
    order = {"provider": "example", "channel": "wallet", "amount": 1, "currency": "USD", "subject": "s", "body": "b"}
    refused = client.post("/v1/orders", json=order)
    assert refused.status_code == 422
    assert "unknown or disabled provider 'example'" in refused.get_json()["errors"]["provider"][0]


class TestExampleProviderConformance(ProviderConformance):
    """The installed example passes the conformance kit, with the harness it ships."""

    @pytest.fixture(autouse=True)
    def other_plugins_variables(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Half-configured IOTPay and Stripe in the environment, as on a developer's machine: the kit
        disables every plugin but the example, so neither reads them (else: ConfigErrors)."""
        monkeypatch.setenv("STRIPE_TIMEOUT", "5")
        monkeypatch.setenv("IOTPAY_MCH_ID", "1")

    @pytest.fixture
    def harness(self, example_installed: None, tmp_path: Path) -> ProviderHarness:
        from gateway_example_provider.harness import ExampleHarness

        return ExampleHarness(tmp_path)


# -- broken plugins ----------------------------------------------------------------------------

BROKEN_PLUGINS = {
    "broken_import": """
        import gateway_no_such_dependency  # noqa: F401
    """,
    "misspelt_hook": """
        from gateway import hookimpl

        GATEWAY_CONTRACT_VERSION = 2

        @hookimpl
        def gateway_register_provider(settings):  # the hook is gateway_register_providers
            return []
    """,
    "wrong_arguments": """
        from gateway import hookimpl

        GATEWAY_CONTRACT_VERSION = 2

        @hookimpl
        def gateway_register_providers(config):  # the spec's argument is `settings`
            return []
    """,
    "impostor": """
        from gateway import hookimpl

        GATEWAY_CONTRACT_VERSION = 2
        from gateway.plugin.provider import Provider, ProviderInfo

        class Impostor(Provider):
            info = ProviderInfo(name="iotpay", display_name="Not IOTPay", channels=("WX_APP",), currencies={"CAD": 2})

            def create_order(self, request): raise NotImplementedError
            def verify_notification(self, request): raise NotImplementedError
            def acknowledge(self, verdict): raise NotImplementedError

        @hookimpl
        def gateway_register_providers(settings):
            return [Impostor()]
    """,
    "not_a_provider": """
        from gateway import hookimpl

        GATEWAY_CONTRACT_VERSION = 2

        @hookimpl
        def gateway_register_providers(settings):
            return [{"name": "not_a_provider", "secret": "never shown"}]
    """,
}


@pytest.fixture(scope="session")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory with every broken distribution, installed by a single pip call."""
    projects = tmp_path_factory.mktemp("broken-projects")
    for name, source in BROKEN_PLUGINS.items():
        project = projects / name
        project.mkdir()
        (project / "pyproject.toml").write_text(
            textwrap.dedent(f"""
                [build-system]
                requires = ["setuptools>=70.1"]
                build-backend = "setuptools.build_meta"

                [project]
                name = "gateway-test-{name.replace("_", "-")}"
                version = "0"

                [project.entry-points."gateway.providers"]
                {name} = "gateway_test_{name}"

                [tool.setuptools]
                py-modules = ["gateway_test_{name}"]
            """)
        )
        (project / f"gateway_test_{name}.py").write_text(textwrap.dedent(source))
    return pip_install(tmp_path_factory.mktemp("broken-site"), *sorted(projects.iterdir()))


@pytest.fixture
def only_broken(broken_site: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], dict[str, str]]:
    """Config that leaves one broken plugin enabled: the others are disabled (and so never imported)."""
    monkeypatch.syspath_prepend(str(broken_site))

    def config(name: str) -> dict[str, str]:
        return {"GATEWAY_DISABLED_PLUGINS": ",".join(sorted(set(BROKEN_PLUGINS) - {name}))}

    return config


@pytest.mark.parametrize(
    ("plugin", "expected"),
    [
        (
            "broken_import",
            "plugin 'broken_import' (gateway_test_broken_import) failed to load: ModuleNotFoundError:"
            " No module named 'gateway_no_such_dependency'",
        ),
        ("misspelt_hook", "plugin 'misspelt_hook': unknown hook 'gateway_register_provider'"),
        ("wrong_arguments", "plugin 'wrong_arguments': Plugin 'wrong_arguments' for hook 'gateway_register_providers'"),
        ("not_a_provider", "plugin 'not_a_provider': gateway_register_providers returned a dict, not a Provider"),
    ],
)
def test_a_broken_plugin_stops_start_up_with_a_message_naming_it(
    only_broken: Callable[[str], dict[str, str]], app_factory: Callable[..., Any], plugin: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        app_factory(**only_broken(plugin))
    assert expected in str(raised.value)
    assert "never shown" not in str(raised.value)


def test_two_plugins_registering_one_provider_name_stop_start_up_naming_both(
    only_broken: Callable[[str], dict[str, str]], app_factory: Callable[..., Any]
) -> None:
    with pytest.raises(ConfigError) as raised:
        app_factory(**only_broken("impostor"))
    named = re.search(r"plugins '(\w+)' and '(\w+)' both register a provider named 'iotpay'", str(raised.value))
    assert named is not None, str(raised.value)
    assert sorted(named.groups()) == ["impostor", "iotpay"]


def test_disabled_broken_plugins_are_never_imported(
    only_broken: Callable[[str], dict[str, str]], app_factory: Callable[..., Any]
) -> None:
    app = app_factory(GATEWAY_DISABLED_PLUGINS=",".join(BROKEN_PLUGINS))
    assert "iotpay" in provider_names(app)
    assert "gateway_test_broken_import" not in sys.modules


# -- lifecycle hooks ---------------------------------------------------------------------------


class Recorder:
    """An in-process plugin (any object with hookimpls) that records every lifecycle hook call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    @hookimpl
    def gateway_order_paid(self, order: OrderSnapshot) -> None:
        self.calls.append(("gateway_order_paid", order.id, order.status))

    @hookimpl
    def gateway_order_expired(self, order: OrderSnapshot) -> None:
        self.calls.append(("gateway_order_expired", order.id, order.status))

    @hookimpl
    def gateway_refund_succeeded(self, refund: dict[str, Any], order: OrderSnapshot) -> None:
        assert refund["order_id"] == order.id
        self.calls.append(("gateway_refund_succeeded", refund["id"], refund["status"]))

    @hookimpl
    def gateway_refund_failed(self, refund: dict[str, Any], order: OrderSnapshot) -> None:
        assert refund["order_id"] == order.id
        self.calls.append(("gateway_refund_failed", refund["id"], refund["status"]))


def recorded(app: Any) -> Recorder:
    recorder = Recorder()
    app.extensions["gateway"].plugin_manager.register(recorder, name="recorder")
    return recorder


def test_gateway_order_paid_and_gateway_refund_succeeded_are_called_once_each(
    app: Any, client: Any, simulator: Any
) -> None:
    recorder = recorded(app)
    order = paid_order(client, simulator, 1000)
    wait_for(lambda: recorder.calls, what="gateway_order_paid")  # called just after the commit
    refund = client.post(f"/v1/orders/{order['id']}/refunds", json={"amount": 400}, headers=new_key()).get_json()

    assert recorder.calls == [
        ("gateway_order_paid", order["id"], "paid"),
        ("gateway_refund_succeeded", refund["id"], "succeeded"),
    ]


def test_gateway_refund_failed_is_called_when_the_provider_refuses(
    app: Any, client: Any, simulator: Any, simulator_faults: Callable[..., None]
) -> None:
    recorder = recorded(app)
    order = paid_order(client, simulator, 1000)
    # The notify's hook runs just after its commit, in the server's thread: wait for it, or it may
    # land after the refund's.
    wait_for(lambda: recorder.calls, what="gateway_order_paid")
    simulator_faults("refund_order", "fail", errCode="0014")

    refused = client.post(f"/v1/orders/{order['id']}/refunds", json={"amount": 1000}, headers=new_key())

    assert refused.status_code == 502
    assert recorder.calls == [
        ("gateway_order_paid", order["id"], "paid"),
        ("gateway_refund_failed", refused.get_json()["refund_id"], "failed"),
    ]


def test_gateway_order_expired_is_called_when_reconciliation_expires_an_order(
    app_factory: Callable[..., Any],
) -> None:
    app = app_factory(GATEWAY_ORDER_EXPIRY="60")
    recorder = recorded(app)
    order = create_order(app.test_client(), 1000)

    reconcile(app.extensions["gateway"], timedelta(0), now=utcnow() + timedelta(seconds=61))

    assert recorder.calls == [("gateway_order_expired", order["id"], "expired")]


def test_a_failing_lifecycle_hook_is_logged_and_never_undoes_the_payment(
    app: Any, client: Any, simulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing:
        @hookimpl
        def gateway_order_paid(self, order: OrderSnapshot) -> None:
            raise RuntimeError("a plugin bug")

    app.extensions["gateway"].plugin_manager.register(Failing(), name="failing")

    order = paid_order(client, simulator, 1000)

    assert order["status"] == "paid"
    wait_for(lambda: "a gateway_order_paid hook failed" in caplog.text, what="the hook's failure to be logged")


# -- plugins that would otherwise be skipped or do nothing, silently --------------------------------


def _module(directory: Path, name: str, source: str) -> None:
    (directory / f"{name}.py").write_text(source)


def test_a_plugin_module_with_no_hookimpl_stops_start_up(
    app_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _module(tmp_path, "forgot_hookimpl", "def gateway_register_providers(settings):\n    return []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="'forgot_hookimpl' implements no gateway hook"):
        app_factory(GATEWAY_PLUGINS="forgot_hookimpl")


def test_a_plugin_module_that_raises_while_importing_is_named(
    app_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _module(tmp_path, "explodes_on_import", "raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match=r"explodes_on_import.*RuntimeError: boom"):
        app_factory(GATEWAY_PLUGINS="explodes_on_import")


def test_two_installed_plugins_with_one_name_stop_start_up(
    app_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A third-party entry point named `iotpay` must not silently shadow the real one."""
    dist_info = tmp_path / "shadowpay-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: shadowpay\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("[gateway.providers]\niotpay = shadowpay.plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="two installed plugins are named 'iotpay'"):
        app_factory()


def test_a_disabled_name_that_matches_no_plugin_is_warned_about(
    app_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    app_factory(GATEWAY_DISABLED_PLUGINS="strpie")
    assert "GATEWAY_DISABLED_PLUGINS names 'strpie'" in caplog.text


# -- plugins built for another contract, or malformed: refused at start-up, naming the plugin ------

_PROVIDER = """
from gateway import hookimpl
from gateway.plugin import Provider, ProviderInfo

class Tiny(Provider):
    info = ProviderInfo(name="tiny", display_name="Tiny", channels=("app",), currencies={"EUR": 2})

    def create_order(self, request): raise NotImplementedError
    def verify_notification(self, request): raise NotImplementedError
    def acknowledge(self, verdict): raise NotImplementedError
"""

MALFORMED_PLUGINS = {
    "states_no_version": (
        _PROVIDER + "\n@hookimpl\ndef gateway_register_providers(settings):\n    return [Tiny()]\n",
        "does not say which contract version it was built for: add GATEWAY_CONTRACT_VERSION = 2",
    ),
    "built_for_version_1": (
        "GATEWAY_CONTRACT_VERSION = 1\n" + _PROVIDER + "\n@hookimpl\ndef gateway_register_providers(settings):\n"
        "    return [Tiny()]\n",
        "was built for contract version 1, and this gateway supports version 2",
    ),
    "version_as_text": (
        "GATEWAY_CONTRACT_VERSION = '2'\n" + _PROVIDER + "\n@hookimpl\ndef gateway_register_providers(settings):\n"
        "    return []\n",
        "states GATEWAY_CONTRACT_VERSION = '2'; it must be an integer",
    ),
    "returns_one_provider": (
        "GATEWAY_CONTRACT_VERSION = 2\n" + _PROVIDER + "\n@hookimpl\ndef gateway_register_providers(settings):\n"
        "    return Tiny()\n",
        "gateway_register_providers must return a list of Provider objects, not a Tiny",
    ),
    "provider_without_info": (
        "GATEWAY_CONTRACT_VERSION = 2\n"
        + _PROVIDER.replace("    info = ProviderInfo(", "    _info = ProviderInfo(")
        + "\n@hookimpl\ndef gateway_register_providers(settings):\n    return [Tiny()]\n",
        "its provider Tiny has no `info` (a ProviderInfo)",
    ),
    "hook_raises": (
        "GATEWAY_CONTRACT_VERSION = 2\n" + _PROVIDER + "\n@hookimpl\ndef gateway_register_providers(settings):\n"
        "    return [Tiny(settings)]\n",
        "gateway_register_providers raised TypeError",
    ),
    "currency_with_wrong_decimals": (
        "GATEWAY_CONTRACT_VERSION = 2\nimport dataclasses\n"
        + _PROVIDER
        + "\n@hookimpl\ndef gateway_register_providers(settings):\n"
        "    tiny = Tiny()\n    tiny.info = dataclasses.replace(tiny.info, currencies={'JPY': 2})\n    return [tiny]\n",
        "JPY has 0 decimals in ISO 4217, not 2",
    ),
    "query_declared_twice": (
        "GATEWAY_CONTRACT_VERSION = 2\nimport dataclasses\nfrom gateway.plugin import QUERY\n"
        + _PROVIDER
        + "\n@hookimpl\ndef gateway_register_providers(settings):\n"
        "    tiny = Tiny()\n    tiny.info = dataclasses.replace(tiny.info, capabilities=frozenset({QUERY}))\n"
        "    return [tiny]\n",
        "query in capabilities: an operation that is a method is declared by implementing that method",
    ),
    "sandbox_not_wsgi": (
        "GATEWAY_CONTRACT_VERSION = 2\nfrom gateway import hookimpl\nfrom gateway.sandbox import Sandbox\n\n"
        "@hookimpl\ndef gateway_register_sandboxes(settings):\n"
        "    return [Sandbox('tiny', '<html>not an app</html>')]\n",
        "sandbox 'tiny' has a str as its app, not a WSGI app",
    ),
    "not_a_sandbox": (
        "GATEWAY_CONTRACT_VERSION = 2\nfrom gateway import hookimpl\n\n"
        "@hookimpl\ndef gateway_register_sandboxes(settings):\n    return [lambda environ, start_response: []]\n",
        "gateway_register_sandboxes returned a function, not a Sandbox",
    ),
    "one_sandbox": (
        "GATEWAY_CONTRACT_VERSION = 2\nfrom gateway import hookimpl\nfrom gateway.sandbox import Sandbox\n\n"
        "@hookimpl\ndef gateway_register_sandboxes(settings):\n"
        "    return Sandbox('tiny', lambda environ, start_response: [])\n",
        "gateway_register_sandboxes must return a list of Sandbox objects, not a Sandbox",
    ),
    "live_settings_not_names": (
        "GATEWAY_CONTRACT_VERSION = 2\nfrom gateway import hookimpl\n\n"
        "@hookimpl\ndef gateway_live_settings(settings):\n    return [{'TINY_KEY': 'its value'}]\n",
        "gateway_live_settings must return variable names, not a dict",
    ),
    "live_settings_one_name": (
        "GATEWAY_CONTRACT_VERSION = 2\nfrom gateway import hookimpl\n\n"
        "@hookimpl\ndef gateway_live_settings(settings):\n    return 'TINY_KEY'\n",
        "gateway_live_settings must return a list of setting names, not a str",
    ),
}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", sorted(MALFORMED_PLUGINS))
def test_a_malformed_plugin_stops_start_up_with_a_config_error_naming_it(
    app_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    source, problem = MALFORMED_PLUGINS[name]
    _module(tmp_path, name, source)
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(ConfigError) as raised:  # never a raw TypeError or AttributeError
        app_factory(GATEWAY_PLUGINS=name, GATEWAY_SANDBOX="1")

    assert f"plugin {name!r}" in str(raised.value)
    assert problem in str(raised.value)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_plugin_built_for_a_version_in_its_deprecation_window_loads_with_a_warning(
    app_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The policy of docs/plugins/contract.md: the release that ships version N+1 still loads N, warning."""
    source, _problem = MALFORMED_PLUGINS["built_for_version_1"]
    _module(tmp_path, "built_for_version_1", source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugin_manager, "DEPRECATED_CONTRACT_VERSIONS", {1: "0.3"})

    with pytest.warns(
        DeprecationWarning,
        match="'built_for_version_1' was built for contract version 1, which gateway 0.3 stops loading",
    ):
        app = app_factory(GATEWAY_PLUGINS="built_for_version_1", GATEWAY_SANDBOX="1")

    assert "tiny" in app.extensions["gateway"].providers
    assert "stops loading: install a version of it built for version 2" in caplog.text


def test_the_built_in_plugins_state_the_contract_version_they_were_built_for() -> None:
    from gateway_iotpay import plugin as iotpay
    from gateway_stripe import plugin as stripe

    assert iotpay.GATEWAY_CONTRACT_VERSION == stripe.GATEWAY_CONTRACT_VERSION == CONTRACT_VERSION == 2


def test_the_typed_hooks_are_the_broadcast_hooks_with_their_arguments() -> None:
    """gateway.domain.hooks.Hooks is what the core calls (so mypy checks the names): it must not drift from
    the specs plugins implement."""
    specs = {
        name: list(inspect.signature(function).parameters)
        for name, function in vars(hookspecs).items()
        if hasattr(function, f"{PROJECT_NAME}_spec") and name not in COLLECTED
    }
    typed = {
        name: list(inspect.signature(function).parameters)[1:]  # without self
        for name, function in vars(Hooks).items()
        if name.startswith("gateway_")
    }
    assert typed == specs and len(specs) == 4
    assert {name for name in vars(hookspecs) if name.startswith("gateway_")} == set(specs) | set(COLLECTED)
