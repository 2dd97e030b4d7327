"""gateway.testing: the conformance kit for provider plugins.

The package holds the harness interface (`harness`), the behavioural suite (`conformance`), the
pytest plugin with its fixtures (`pytest_plugin`, entry point `pytest11`) and a live loopback
server (`live`).

A provider author implements a `ProviderHarness` (how to start their simulator, configure the
provider against it, sign notifications the way their provider does, and make the simulator
answer late, refuse, garble an answer, take a payment without notifying, close a payment, answer
a query about another order, hold a refund pending, or say how much it refunded), then
subclasses `ProviderConformance` in a test module with a `harness` fixture. The suite checks
behaviour through the real gateway (HTTP API, notify pipeline, database, reconciliation), not the
shape of a class, and fails the bugs that lose money or hide it: known-answer signatures, tampered
and unsigned notifications refused, an unpaid notification acknowledged but not applied,
duplicates applied once, mismatches and unknown orders refused, event ids recorded; a lost
notification found by `?refresh=true` and by reconciliation, a payment closed at the provider
closing the order, a query answer about another order refused; a refusal failing the order or
refund and never retried, an unclear answer or a time-out leaving it unknown; refunds of exactly
the amount asked, never twice, and never succeeded while pending; every declared currency with
ISO 4217's decimals and a real order in it; no secret in logs, answers or stored rows, the
provider's own error messages included; hostile input built from the harness's own messages
(signatures that only resemble the right one, a repeated field, amounts binary cannot hold, HTML
and non-JSON answers to every call); each required setting refused by name when missing; signed
timestamps judged by `Provider.clock` inside the declared window; and refund notifications that
settle refunds once and never pay an order; and create outcomes that routing may fail over after
that leave nothing at the provider (a time-out, an unclear answer or a refusal that can follow
acceptance never one); a genuine notification's fields repeated, reordered and re-split at `&`
and `=`; the provider's own busy answers (`busy_answers`); a create whose answer was lost; hostile
return URLs, subjects and addresses in answers; the reply the provider needs (`accepted_reply`); an
order in every declared channel; `Provider.check` against a wrong secret; declared invalid orders
refused naming their field (`invalid_orders`) and valid ones created (`valid_orders`); field
lengths and the largest amount probed at the limit and one past it (`field_limits`,
`largest_amount`); each channel's documented currencies (`channel_currencies`); each refund's own
id at the provider (`refunds_at_provider`); and notifications in a form body
(`form_body_notifications`); declared refusals with garbage beside them; every way to order in a
channel (`more_channel_options`) and the provider order each names; the settings that make a plugin
stricter with answers (`strict_settings`); and the smallest amount (`smallest_amount`). tests/testing/
plants 27 such bugs in Example Pay, 4 in Stripe, 10 more across all three (test_planted_hostile.py) and
25 in IOTPay (test_planted_declared.py, test_planted_limits.py, test_planted_refusal_fields.py,
test_planted_channel_modes.py, test_planted_strict_settings.py, test_planted_dropped_ids.py,
test_planted_status_code.py), and shows the kit fails each.

Usage (pytest loads this plugin by itself once the gateway is installed)::

    import pytest
    from gateway.testing import ProviderConformance
    from tests.myprovider.harness import MyHarness   # your ProviderHarness subclass

    class TestMyProviderConformance(ProviderConformance):
        @pytest.fixture
        def harness(self, tmp_path):
            return MyHarness(tmp_path)   # not started: the kit calls start() and stop()

The `harness` fixture returns a new, *unstarted* `ProviderHarness` for each test; it may live in
the class, the module or a conftest.py. The kit calls `start()` before the test and `stop()` after
it, even when the test fails. Every test builds its own gateway: a fresh SQLite database migrated
by Alembic, `create_app()` with `harness.settings(url)`, served on a loopback port at `url`
(where a simulator may deliver notifications). The gateway is hermetic: GATEWAY_* environment
variables are cleared while it runs, and every other installed `gateway.providers` plugin is
disabled (GATEWAY_DISABLED_PLUGINS), so another plugin's variables in a developer's environment
(STRIPE_TIMEOUT, IOTPAY_MCH_ID ...) are never read. Your own provider's variables are read, so set
every one that matters in `settings()`.

Run only the conformance suite with ``pytest -m gateway_conformance``. With plugin autoloading
disabled (PYTEST_DISABLE_PLUGIN_AUTOLOAD), add ``pytest_plugins = ["gateway.testing.pytest_plugin"]`` to a conftest.
The fixtures the suite uses can serve your own tests too: `gateway_harness` (the started harness),
`gateway_under_test` (a `gateway.testing.live.LiveGateway` built from it) and `gateway_factory`
(builds one with extra settings).
"""

from typing import TYPE_CHECKING

from gateway.testing.harness import (
    FieldLimit,
    HttpRequest,
    InvalidOrderExample,
    InvalidRefundExample,
    KnownAnswer,
    ProviderAnswer,
    ProviderHarness,
    StrictSetting,
    ValidOrderExample,
)

if TYPE_CHECKING:
    from gateway.testing.conformance import ProviderConformance

__all__ = [
    "FieldLimit",
    "HttpRequest",
    "InvalidOrderExample",
    "InvalidRefundExample",
    "KnownAnswer",
    "ProviderAnswer",
    "ProviderConformance",
    "ProviderHarness",
    "StrictSetting",
    "ValidOrderExample",
]


def __getattr__(name: str) -> object:
    # The suite imports Flask, SQLAlchemy and the app; only a test module that subclasses it pays for that.
    if name == "ProviderConformance":
        from gateway.testing.conformance import ProviderConformance

        return ProviderConformance
    raise AttributeError(name)
