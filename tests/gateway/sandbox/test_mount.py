"""gateway.sandbox: where a simulator is mounted, where its provider finds it, where its state lives."""

from __future__ import annotations

from gateway.plugin.settings import Settings
from gateway.sandbox import Sandbox, mount_path, sandbox_state_path, sandbox_url


def app(environ: object, start_response: object) -> list[bytes]:
    return []


def test_the_provider_finds_its_simulator_where_the_core_mounts_it() -> None:
    settings = Settings({"GATEWAY_PUBLIC_URL": "https://pay.example.com/"}, "/srv/instance")
    assert Sandbox("example", app).mount_path == mount_path("example") == "/sandbox/example"
    assert sandbox_url(settings, "example") == "https://pay.example.com/sandbox/example"
    assert sandbox_state_path(settings, "example") == "/srv/instance/example-sandbox.sqlite3"
