"""docs/api.md's field tables say what the API's schemas hold: every field of a request or answer
body has a row in its table, and every row is a field of that schema. A field someone adds to
gateway/domain/schemas.py (or drops from it) fails here until the page says so."""

from __future__ import annotations

import re

import pytest
from marshmallow import Schema

from gateway.domain import schemas
from tests.test_docs import ERRORS_PAGE, section, text

API_PAGE = ERRORS_PAGE  # docs/api.md

# The heading of each table under "## Fields", and the schema it documents.
TABLES: dict[str, type[Schema]] = {
    "Order request": schemas.OrderCreateSchema,
    "Order": schemas.OrderSchema,
    "Next action": schemas.NextActionSchema,
    "Attempt": schemas.AttemptSchema,
    "Routing decision": schemas.RoutingDecisionSchema,
    "Refund request": schemas.RefundCreateSchema,
    "Refund": schemas.RefundSchema,
    "Refund discrepancy": schemas.RefundDiscrepancySchema,
    "Provider": schemas.ProviderSchema,
    "Provider account": schemas.AccountProviderSchema,
    "Notification policy": schemas.NotifyPolicySchema,
}
# Schemas of query strings, each documented in its endpoint's row as `name=` (a parameter).
QUERY_STRINGS: dict[type[Schema], str] = {
    schemas.OrderQuerySchema: "GET /v1/orders/<id>[",
    schemas.QrCodeQuerySchema: "GET /v1/orders/<id>/qr_code[",
    schemas.PayQuerySchema: "GET /pay?",
}
ELSEWHERE = {schemas.ApiErrorSchema}  # the one error shape: its own section, "## Errors"


def field_names(schema: type[Schema]) -> set[str]:
    return {field.data_key or name for name, field in schema().fields.items()}


def table_rows(heading: str) -> list[str]:
    """The first code span of each row of the table under `heading`, in order."""
    body = section(API_PAGE, heading)
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    assert rows, f"docs/api.md: no field table under '### {heading}'"
    return [re.match(r"\| `([^`]+)`", row).group(1) for row in rows]  # type: ignore[union-attr]


def test_every_schema_of_the_api_is_documented_somewhere() -> None:
    declared = {
        value
        for value in vars(schemas).values()
        if isinstance(value, type) and issubclass(value, Schema) and value.__module__ == schemas.__name__
    }
    documented = set(TABLES.values()) | set(QUERY_STRINGS) | ELSEWHERE
    assert sorted(s.__name__ for s in declared - documented) == [], "schemas docs/api.md does not document"


@pytest.mark.parametrize("heading", sorted(TABLES))
def test_the_field_table_lists_exactly_the_fields_of_its_schema(heading: str) -> None:
    rows = table_rows(heading)
    assert len(rows) == len(set(rows)), f"'### {heading}' lists a field twice"
    fields = field_names(TABLES[heading])
    assert sorted(fields - set(rows)) == [], f"fields of {TABLES[heading].__name__} missing from '### {heading}'"
    assert sorted(set(rows) - fields) == [], f"rows of '### {heading}' that {TABLES[heading].__name__} lacks"


@pytest.mark.parametrize("schema", sorted(QUERY_STRINGS, key=lambda s: s.__name__), ids=lambda s: s.__name__)
def test_every_query_parameter_is_in_its_endpoints_row(schema: type[Schema]) -> None:
    row = next((line for line in text(API_PAGE).splitlines() if line.startswith(f"| `{QUERY_STRINGS[schema]}")), None)
    assert row is not None, f"docs/api.md has no endpoint row for {QUERY_STRINGS[schema]}"
    endpoint = row.split("`")[1]
    assert sorted(name for name in field_names(schema) if f"{name}=" not in endpoint) == []
