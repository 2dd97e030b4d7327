"""State a simulator shares across processes: one SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager


class SqliteState:
    """State a simulator shares across gunicorn workers: one SQLite file, WAL, writes serialized.

    `schema` is the `CREATE TABLE IF NOT EXISTS ...` statements, `;`-separated, run at start.
    Subclasses run their queries in `_transaction()` (BEGIN IMMEDIATE, so a check-then-write
    is atomic across processes) or `_connect()` for plain reads. Each opens its own connection:
    sqlite3 connections must not cross threads.
    """

    def __init__(self, path: str, schema: str) -> None:
        self._path = path
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # readers never wait for another worker's write
        with self._transaction() as conn:
            for statement in filter(str.strip, schema.split(";")):
                conn.execute(statement)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: we issue BEGIN ourselves, so sqlite3 must not open hidden transactions.
        with closing(sqlite3.connect(self._path, timeout=30, isolation_level=None)) as conn:
            conn.row_factory = sqlite3.Row
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
