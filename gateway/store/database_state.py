"""Why the database cannot serve, in words an operator can act on, and whether its schema is current.

Used by `/healthz`, `/readyz`, `gateway check`, `gateway db current` and the 503 `database_unavailable`
answer. The words name the problem (missing, refuses connections, refuses the credentials, no schema)
and never a URL, a user name or a password.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gateway.store.db import Database

# PostgreSQL's SQLSTATE codes (Appendix A of its manual) for a refused connection.
_POSTGRES_STATES = {
    "3D000": "missing: the database named in GATEWAY_DATABASE_URL does not exist",
    "28P01": "refuses the user name or password in GATEWAY_DATABASE_URL",
    "28000": "refuses the user named in GATEWAY_DATABASE_URL",
    "53300": "refuses connections: it has too many already",
    "57P03": "refuses connections: it is starting up or shutting down",
}
# Substrings of driver messages (psycopg's libpq, sqlite3) when there is no SQLSTATE (libpq gives
# none for a connection it could not open), most specific first.
_MESSAGES = (
    ("password authentication failed", "refuses the user name or password in GATEWAY_DATABASE_URL"),
    ('fatal:  role "', "refuses the user named in GATEWAY_DATABASE_URL"),
    ('fatal:  database "', "missing: the database named in GATEWAY_DATABASE_URL does not exist"),
    ("too many clients", "refuses connections: it has too many already"),
    ("the database system is starting up", "refuses connections: it is starting up or shutting down"),
    ("the database system is shutting down", "refuses connections: it is starting up or shutting down"),
    ("connection refused", "refuses connections: nothing listens at its address"),
    ("could not translate host name", "unreachable: its host name does not resolve"),
    ("name or service not known", "unreachable: its host name does not resolve"),
    ("timeout expired", "unreachable: it did not answer in time"),
    ("no route to host", "unreachable: no route to its host"),
    ("unable to open database file", "missing: the SQLite file cannot be opened (a missing folder, or no permission)"),
    ("no such table", "has no tables: run `gateway db upgrade`"),
    ("database is locked", "busy: another process holds its write lock"),
    ("server closed the connection", "closed the connection"),
)


def describe(error: SQLAlchemyError) -> str:
    """What is wrong with the database, in words, from the error that reaching it raised."""
    original = error.orig if isinstance(error, DBAPIError) else None
    state = getattr(original, "sqlstate", None)
    if state in _POSTGRES_STATES:
        return _POSTGRES_STATES[state]
    message = str(original if original is not None else error).lower()
    for fragment, words in _MESSAGES:
        if fragment in message:
            return words
    return f"unavailable ({type(original or error).__name__})"


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # None: no schema at all
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def words(self) -> str:
        if self.up_to_date:
            return f"schema at {self.current} (the newest)"
        return f"schema at {self.current or 'nothing'}, the code expects {self.head}: run `gateway db upgrade`"


@functools.cache
def head_revision() -> str:
    """The newest migration shipped with this code (read once: it is a property of the code)."""
    from alembic.script import ScriptDirectory  # only when asked: keep Alembic out of a worker's start

    from gateway.store import migrate

    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    assert head is not None, "gateway/store/migrations has no revision"
    return head


def current_revision(db: Database) -> str | None:
    """The revision the database is at (None for a database without the gateway's schema).

    A plain query, not Alembic's MigrationContext: that one logs at INFO each time it is configured.
    Raises SQLAlchemyError when the database cannot be reached.
    """
    with db.engine.connect() as connection:
        if not db.engine.dialect.has_table(connection, "alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def schema_state(db: Database) -> SchemaState:
    return SchemaState(current_revision(db), head_revision())
