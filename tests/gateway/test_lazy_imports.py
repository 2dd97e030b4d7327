"""A worker outside the sandbox imports only what its requests need (issue 22: memory).

Each import costs every worker its RSS (bench/imports.py measures how much): the console's views,
the OpenAPI document, the simulators, Alembic and the scaffold wait until something asks for them.
The app is built in a fresh interpreter, as a gunicorn worker builds it, because this test process
has imported all of them long ago.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.lazy_imports import ON_DEMAND

# Built and asked in a child: which of these are imported after create_app(), and after each request.
CHILD = """
import json, sys
from gateway import create_app

WATCHED = {watched!r}

def loaded():
    return sorted(w for w in WATCHED if any(m == w or m.startswith(w + ".") for m in sys.modules))

app = create_app()
seen = {{"start": loaded()}}
client = app.test_client()
for path in {paths!r}:
    status = client.get(path).status_code
    seen[path] = [status, loaded()]
print(json.dumps(seen))
"""

# Every part the app imports on demand (tests/support/lazy_imports.py: the list bench.imports prices).
WATCHED = [part.package for part in ON_DEMAND]
ADMIN_KEY = "admin-key-0123456789abcdef"


def worker_environ(tmp_path: Path, **settings: str) -> dict[str, str]:
    """A production worker's environment: outside the sandbox, the console on."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith(("GATEWAY_", "IOTPAY_"))}
    environ.update(
        GATEWAY_SANDBOX="0",
        GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
        GATEWAY_INSTANCE_PATH=str(tmp_path),
        GATEWAY_PUBLIC_URL="https://pay.example.com",
        GATEWAY_API_KEYS="api-key-0123456789abcdef",
        GATEWAY_ADMIN_KEYS=ADMIN_KEY,  # the console is on: its views still wait for /console
        **settings,
    )
    return environ


def built_in_a_fresh_worker(tmp_path: Path, paths: list[str], **settings: str) -> dict[str, object]:
    child = CHILD.format(watched=WATCHED, paths=paths)
    environ = worker_environ(tmp_path, **settings)
    result = subprocess.run([sys.executable, "-c", child], env=environ, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    seen: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return seen


def test_a_worker_outside_the_sandbox_imports_none_of_what_its_requests_do_not_need(tmp_path: Path) -> None:
    seen = built_in_a_fresh_worker(tmp_path, ["/healthz"])
    assert seen["start"] == []
    assert seen["/healthz"] == [200, []]


def test_the_console_and_the_openapi_document_are_imported_when_first_asked_for(tmp_path: Path) -> None:
    seen = built_in_a_fresh_worker(tmp_path, ["/console/login", "/openapi.json"])
    assert seen["/console/login"] == [200, ["gateway.web.console.views"]]
    assert seen["/openapi.json"] == [200, ["gateway.web.console.views", "gateway.web.openapi"]]


def test_credentials_keys_bring_their_cipher_and_pay_its_limiter(tmp_path: Path) -> None:
    key = "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="  # a Fernet key: 32 url-safe base64-encoded bytes
    seen = built_in_a_fresh_worker(tmp_path, [], GATEWAY_CREDENTIALS_KEYS=key, GATEWAY_PAY_ENDPOINT="1")
    assert seen["start"] == ["cryptography", "flask_limiter"]


def test_each_part_bench_imports_prices_is_the_part_a_worker_imports_on_demand(tmp_path: Path) -> None:
    # bench.imports --optional imports `measured` to price `package`: a renamed module must fail here, not
    # leave the bench pricing a module that no longer exists (or one that does not bring the part in).
    priced = [(part.package, list(part.measured)) for part in ON_DEMAND if part.measured]
    child = (
        "import importlib, json, sys\n"
        "from gateway import create_app\n"
        "create_app()\n"
        f"for package, modules in {priced!r}:\n"
        "    for name in modules:\n"
        "        importlib.import_module(name)\n"
        "    print(package, any(m == package or m.startswith(package + '.') for m in sys.modules))\n"
    )
    environ = worker_environ(tmp_path)
    result = subprocess.run([sys.executable, "-c", child], env=environ, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [word for package, _ in priced for word in (package, "True")]
