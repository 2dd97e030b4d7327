"""deploy/: what an operator copies. The example environment file names every setting the code reads
(so it cannot drift), with the secret ones marked; the systemd units pass `systemd-analyze verify`
against this checkout's own `gateway` command; compose.yaml and the Dockerfile run the gateway's real
commands as a non-root user with a health check on /healthz."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.ops.command import main
from gateway.plugin.settings import load_settings
from tests.conftest import IN_CI
from tests.test_docs import core_and_builtin_settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ENV_FILE = DEPLOY / "gateway.env.example"
UNITS = sorted((DEPLOY / "systemd").iterdir())
INSTALLED_AT = "/srv/gateway/.venv"  # where docs/operations.md installs the gateway, and the units run it
SETTING_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")

# Read by the code, and still no operator's to set.
NOT_FOR_OPERATORS = {
    "GATEWAY_TEST_POSTGRES_URL",  # the test suite's PostgreSQL server
    "GATEWAY_METRICS_DIR_OWNED",  # the server marks its own temporary metrics directory
    "GATEWAY_STARTUP_CHECKED",  # `gateway run` tells gunicorn's master the configuration was checked
    "IOTPAY_REJECT_BAD_RESPONSE_SIGN",  # retired: setting it stops start-up
}
# Read by libraries the gateway configures, documented under "Others" in docs/operations.md.
OTHERS = {"PROMETHEUS_MULTIPROC_DIR"}


def env_file_settings() -> dict[str, list[str]]:
    """Each setting of the example file (set or commented out) with the comment lines right above it."""
    settings: dict[str, list[str]] = {}
    comments: list[str] = []
    for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
        found = SETTING_LINE.match(line)
        if found:
            assert found.group(2) not in settings, f"{found.group(2)} is in the file twice"
            settings[found.group(2)] = comments
            comments = []
        elif line.startswith("#"):
            comments.append(line)
        else:
            comments = []
    return settings


def test_the_example_environment_file_names_every_setting_the_code_reads() -> None:
    expected = (core_and_builtin_settings() - NOT_FOR_OPERATORS) | OTHERS
    named = set(env_file_settings())
    assert sorted(expected - named) == [], "settings the code reads that deploy/gateway.env.example lacks"
    assert sorted(named - expected) == [], "settings in deploy/gateway.env.example that the code does not read"


def test_secret_settings_are_marked_in_the_example_file() -> None:
    settings = env_file_settings()
    secrets = {name for name in settings if "SECRET" in name or name.endswith("_KEYS")}
    secrets |= {"GATEWAY_DATABASE_URL", "GATEWAY_REDIS_URL"}  # a URL may carry a password
    marked = {name for name, comments in settings.items() if any("SECRET" in line for line in comments)}
    assert sorted(secrets - marked) == [], "secrets without a SECRET comment right above them"
    assert sorted(marked - secrets) == [], "settings marked SECRET that are not secrets"


def test_the_example_file_sets_no_secret_and_leaves_no_server_setting_blank() -> None:
    """Blank is unset for the gateway, but gunicorn.conf.py reads its own settings as they are."""
    active = {
        found.group(2): found.group(3)
        for line in ENV_FILE.read_text(encoding="utf-8").splitlines()
        if (found := SETTING_LINE.match(line)) and not found.group(1)
    }
    server_settings = set(
        re.findall(r'environ\.get\("(GATEWAY_[A-Z_]+)"', (ROOT / "gateway/ops/gunicorn_conf.py").read_text())
    )
    assert server_settings and not server_settings & {name for name, value in active.items() if not value}
    assert {name for name in active if "SECRET" in name or name.endswith("_KEYS")} <= {
        name for name, value in active.items() if not value
    }
    assert "CHANGE-ME" in active["GATEWAY_DATABASE_URL"]


def test_the_gateway_reads_the_example_file_as_its_config_file() -> None:
    settings = load_settings("instance", {"GATEWAY_CONFIG_FILE": str(ENV_FILE)})
    assert settings.get("GATEWAY_PUBLIC_URL") == "https://pay.example.com"
    assert settings.get("GATEWAY_API_KEYS") is None  # blank: unset
    assert settings.get("GATEWAY_WORKERS") is None  # commented out: the default


# -- systemd -------------------------------------------------------------------------------------


def test_the_units_are_a_server_a_worker_and_a_reconcile_timer() -> None:
    assert [unit.name for unit in UNITS] == [
        "gateway-reconcile.service",
        "gateway-reconcile.timer",
        "gateway-worker.service",
        "gateway.service",
    ]
    commands = {
        unit.name: [line.split("=", 1)[1] for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
        for unit in UNITS
    }
    assert commands["gateway.service"] == [f"{INSTALLED_AT}/bin/gateway run"]
    assert commands["gateway-worker.service"] == [f"{INSTALLED_AT}/bin/gateway worker"]
    assert commands["gateway-reconcile.service"] == [f"{INSTALLED_AT}/bin/gateway reconcile"]


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        message = "systemd-analyze is not installed (Debian: apt-get install systemd); .ci/run installs it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    # Against this checkout's own `gateway` command: verify also checks that each command exists.
    for unit in UNITS:
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED_AT, sys.prefix))
    result = subprocess.run(
        [analyze, "verify", "--man=no", *sorted(str(path) for path in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


# -- compose and the Dockerfile ------------------------------------------------------------------


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return document


def gateway_commands() -> set[str]:
    return {name for name in main.commands if name != "db"} | {f"db {name}" for name in main.commands["db"].commands}  # type: ignore[attr-defined]


def test_compose_runs_the_gateway_the_worker_and_reconciliation_beside_postgresql_and_redis() -> None:
    services = compose()["services"]
    assert set(services) == {"migrate", "gateway", "worker", "reconcile", "postgres", "redis"}
    for name in ("migrate", "gateway", "worker", "reconcile"):
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}, name
        assert service["env_file"] == "gateway.env", name
        assert service["environment"]["GATEWAY_DATABASE_URL"].endswith("@postgres:5432/gateway"), name
        assert service["environment"]["GATEWAY_REDIS_URL"] == "redis://redis:6379/0", name
        command = " ".join(service["command"])
        assert any(f"gateway {known}" in command for known in gateway_commands()), f"{name}: {command}"
    for name in ("gateway", "worker", "reconcile"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]


def test_the_compose_files_secrets_stay_out_of_the_repository() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "deploy/gateway.env", "deploy/.env"], cwd=ROOT, capture_output=True, text=True
    )
    assert ignored.stdout.split() == ["deploy/gateway.env", "deploy/.env"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_dockerfile_builds_the_core_and_both_plugins_from_this_repository() -> None:
    instructions = dockerfile_instructions()
    copied = [
        argument.split()[:-1]
        for instruction, argument in instructions
        if instruction == "COPY" and "--from" not in argument
    ]
    for sources in copied:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    install = next(
        argument for instruction, argument in instructions if instruction == "RUN" and "pip install" in argument
    )
    assert shlex.split(install)[-3:] == [".", "./plugins/iotpay", "./plugins/stripe"]


def test_the_image_runs_as_a_user_and_checks_its_health_on_healthz() -> None:
    instructions = dockerfile_instructions()
    users = [argument for instruction, argument in instructions if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    health = [argument for instruction, argument in instructions if instruction == "HEALTHCHECK"]
    assert len(health) == 1 and "/healthz" in health[0]
    assert instructions[-1] == ("CMD", '["gateway", "run"]')


def test_docker_compose_accepts_the_compose_file(tmp_path: Path) -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (Debian: apt-get install docker-compose)")
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    shutil.copy(ENV_FILE, tmp_path / "deploy" / "gateway.env")
    result = subprocess.run(
        [tool, "--file", str(tmp_path / "deploy" / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "POSTGRES_PASSWORD": "0123456789abcdef"},
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
