"""What a gateway worker imports only when something asks for it (issue 22: memory), in one list.

Two readers: tests/gateway/test_lazy_imports.py fails when a worker outside the sandbox imports any of
these at start, and `python -m bench.imports --optional` measures what each costs a worker that does
import it. One list, so that a part made lazy is both guarded and measured. Plain data only: the
bench's measuring process imports this before anything else, and it must stay bare Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class OnDemand:
    package: str  # imported at start (it or a submodule) is a regression
    when: str  # what brings it in
    measured: tuple[str, ...] = ()  # what bench.imports imports to price it; () for what no worker needs


ON_DEMAND: tuple[OnDemand, ...] = (
    OnDemand("gateway.web.console.views", "the first request to /console", ("gateway.web.console.views",)),
    OnDemand("gateway.web.openapi", "the first /openapi.json", ("gateway.web.openapi", "gateway.web.openapi_examples")),
    OnDemand("flask_limiter", "/pay is on (GATEWAY_PAY_ENDPOINT)", ("flask_limiter",)),
    OnDemand("cryptography", "a vault exists (GATEWAY_CREDENTIALS_KEYS)", ("cryptography.fernet",)),
    OnDemand("gateway.sandbox", "sandbox mode (GATEWAY_SANDBOX=1)", ("gateway.sandbox", "gateway.sandbox.mount")),
    OnDemand(
        "gateway_iotpay.sandbox", "sandbox mode: IOTPay's simulator", ("gateway.sandbox", "gateway_iotpay.sandbox.app")
    ),
    OnDemand(
        "gateway_stripe.sandbox", "sandbox mode: Stripe's simulator", ("gateway.sandbox", "gateway_stripe.sandbox.app")
    ),
    OnDemand("segno", "the first QR code image", ("segno",)),
    OnDemand("alembic", "`gateway db` only", ("gateway.store.migrate",)),
    OnDemand("gateway.scaffold", "`gateway new-plugin` only", ("gateway.scaffold",)),
    OnDemand("gateway.testing", "the plugin kit's tests only"),
    OnDemand("hypothesis", "tests only"),
    OnDemand("qrcode", "never: segno draws the QR codes"),
    OnDemand("pygments", "never"),
)

# Imported at start although no request needs it, by a library rather than by the gateway: reported by
# bench.imports, not failed on. flask-smorest imports PyYAML at the top of its spec module.
EAGER_BY_LIBRARIES: tuple[str, ...] = ("yaml",)


def within(name: str, package: str) -> bool:
    """Whether module `name` is `package` or one of its submodules."""
    return name == package or name.startswith(package + ".")


def loaded(modules: Iterable[str], packages: Iterable[str]) -> list[str]:
    """Which of `packages` (sorted) `modules` (sys.modules' names) holds, themselves or a submodule."""
    names = list(modules)
    return sorted(package for package in packages if any(within(name, package) for name in names))
