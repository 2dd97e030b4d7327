"""Every CLI command answers a bad argument with one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.flows import new_key, paid_with
from tests.support.processes import flask_cli

pytestmark = pytest.mark.neutral

UNKNOWN_ID = str(uuid.UUID(int=7))

BAD_ARGUMENTS = [
    (
        ["gateway", "settle-refund", UNKNOWN_ID, "--outcome", "failed", "--note", "x"],
        1,
        f"No refund with id '{UNKNOWN_ID}'",
    ),
    (
        ["gateway", "settle-refund", "not-an-id", "--outcome", "failed", "--note", "x"],
        1,
        "No refund with id 'not-an-id'",
    ),
    (["gateway", "settle-refund", UNKNOWN_ID, "--outcome", "maybe", "--note", "x"], 2, "'maybe' is not one of"),
    (["gateway", "settle-refund", UNKNOWN_ID, "--note", "x"], 2, "Missing option '--outcome'"),
    (["gateway", "settle-refund", UNKNOWN_ID, "--outcome", "failed", "--note", " "], 2, "'--note': must say why"),
    (["gateway", "settle-refund"], 2, "Missing argument 'REFUND_ID'"),
    (["gateway", "reconcile", "--older-than", "-5"], 2, "-5 is not in the range x>=0"),
    (["gateway", "reconcile", "--older-than", "soon"], 2, "'soon' is not a valid integer"),
    (["gateway", "reconcile", "--everything"], 2, "No such option '--everything'"),
    (["gateway", "worker", "--once"], 2, "GATEWAY_WEBHOOK_URL"),
    (["gateway", "worker", "--twice"], 2, "No such option '--twice'"),
    (["db", "upgrade", "nosuchrevision"], 2, "revision 'nosuchrevision'"),
    (["db", "downgrade"], 2, "Missing argument 'REVISION'"),
    (["db", "downgrade", "nosuchrevision"], 2, "revision 'nosuchrevision'"),
]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("args", "status", "says"), BAD_ARGUMENTS, ids=[" ".join(case[0]) for case in BAD_ARGUMENTS])
def test_a_bad_argument_gets_one_line_and_a_non_zero_exit(app: Any, args: list[str], status: int, says: str) -> None:
    result = app.test_cli_runner().invoke(args=args)

    assert result.exit_code == status, result.output
    assert isinstance(result.exception, SystemExit)  # click's own exit, not an escaped exception
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert says in lines[0]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_settling_a_refund_that_is_settled_already_is_refused_in_one_line(app: Any, neutral_provider: Any) -> None:
    client = app.test_client()
    order = paid_with(client, neutral_provider, 1000)
    refund_id = client.post(f"/v1/orders/{order['id']}/refunds", json={"amount": 400}, headers=new_key()).get_json()[
        "id"
    ]

    result = app.test_cli_runner().invoke(
        args=["gateway", "settle-refund", refund_id, "--outcome", "failed", "--note", "x"]
    )

    assert result.exit_code == 1
    assert result.stderr == f"Error: refund {refund_id} is already settled\n"
    assert client.get(f"/v1/refunds/{refund_id}").get_json()["status"] == "succeeded"


def test_the_deployed_command_prints_no_traceback_for_an_unknown_refund(sqlite_url: str, tmp_path: Path) -> None:
    config = {
        "GATEWAY_DATABASE_URL": sqlite_url,
        "GATEWAY_INSTANCE_PATH": str(tmp_path / "instance"),
        "GATEWAY_PUBLIC_URL": "http://127.0.0.1:9",
        "GATEWAY_SANDBOX": "1",
    }

    result = flask_cli(config, "gateway", "settle-refund", UNKNOWN_ID, "--outcome", "failed", "--note", "x")

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"Error: No refund with id '{UNKNOWN_ID}'."
    assert "Traceback" not in result.stderr
