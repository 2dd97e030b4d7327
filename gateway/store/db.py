"""Database engine and transactions. PostgreSQL in production, SQLite for development.

Two kinds of session, each also without the ORM for the hot paths:
- `transaction()` (a Session) and `transaction_connection()` (Core only): one transaction,
  committed at the end. On SQLite it starts with BEGIN IMMEDIATE, so two workers applying the same
  notify queue up instead of failing with "database is locked" half-way through. Keep them short:
  nothing slow (a provider call) happens inside one.
- `autocommit()` (a Session), `autocommit_connection()` (Core) and `raw_autocommit()` (a DBAPI
  cursor for `RawStatement`s, the notify path's): every statement commits on its own. Reads take no
  lock and wait for no writer (no BEGIN IMMEDIATE on SQLite, no BEGIN round trip on PostgreSQL); a
  lone INSERT is one round trip and one commit. For reads, and for single writes that need nothing
  else to be atomic.

On SQLite, writers also take turns at `writing()` (a lock file, see _WriterGate), always before they
take a pooled connection.

Dropped connections (a restarted server, an administrator's pg_terminate_backend, an idle time-out)
are noticed when a connection leaves the pool, without a round trip: a pooled connection has nothing
to read, so a socket that is readable means the server has closed it, or said why it will. Such a
connection is replaced before anyone uses it (instead of a `SELECT 1` before every request).
Connections are also recycled after GATEWAY_DATABASE_RECYCLE seconds, and TCP keepalives notice a
peer that vanished silently.
"""

from __future__ import annotations

import fcntl
import os
import select
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

# Statements of sessions from Database.autocommit() on SQLite run without BEGIN (pysqlite is in
# autocommit mode, isolation_level=None): each is its own transaction, as on PostgreSQL.
_SQLITE_AUTOCOMMIT = "gateway_sqlite_autocommit"


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, pool_timeout: float = 30, recycle: float = 1800) -> None:
        self.url = url
        self.engine = _make_engine(url, pool_size=pool_size, pool_timeout=pool_timeout, recycle=recycle)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if self.engine.dialect.name == "sqlite":
            autocommit_engine = self.engine.execution_options(**{_SQLITE_AUTOCOMMIT: True})
        else:
            autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._autocommit_engine = autocommit_engine
        self._raw: dict[tuple[ClauseElement, tuple[str, ...] | None], RawStatement] = {}
        self._writers = _WriterGate.for_sqlite(self.engine)
        self._autocommit_sessions = sessionmaker(autocommit_engine, expire_on_commit=False)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around a write on SQLite: one writer at a time (see _WriterGate). Nothing on PostgreSQL."""
        if self._writers is None:
            yield
            return
        with self._writers:
            yield

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any exception."""
        with self.writing(), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def transaction_connection(self) -> Iterator[Connection]:
        """`transaction()` without the ORM, for hot paths: Core statements built once, one commit."""
        with self.writing(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def autocommit(self) -> Iterator[Session]:
        """A session whose statements each commit on their own (pending objects are flushed at the end)."""
        with self._autocommit_sessions() as session, session.begin():
            yield session

    @contextmanager
    def autocommit_connection(self) -> Iterator[Connection]:
        """`autocommit()` without the ORM: for hot paths that run a statement or two built once (no
        Session, no unit of work, no per-call statement construction)."""
        with self._autocommit_engine.connect() as connection:
            yield connection

    def raw(self, statement: ClauseElement, keys: Sequence[str] | None = None) -> RawStatement:
        """`statement` (built once, at import) compiled once for this database, to run on `raw_autocommit()`."""
        key = (statement, tuple(keys) if keys is not None else None)  # the key keeps the statement alive
        compiled = self._raw.get(key)
        if compiled is None:
            compiled = self._raw[key] = RawStatement(statement, self.engine, keys)
        return compiled

    @contextmanager
    def raw_autocommit(self) -> Iterator[Any]:
        """A DBAPI cursor on a pooled connection (checked like any other), each statement its own
        commit: for `RawStatement`s on the notify path, whose CPU is mostly SQLAlchemy's own.

        To write with it, enter `writing()` first: the SQLite gate is always taken before a
        connection, never while holding one (a holder waiting for the gate, and the gate's holder
        waiting for a pooled connection, would wait for each other).
        """
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        try:
            connection = self.engine.raw_connection()
        except dbapi_error as error:  # as the rest of SQLAlchemy raises it (a refused connection: OperationalError)
            raise exc.DBAPIError.instance(None, None, error, dbapi_error) from error
        postgres = self.engine.dialect.name == "postgresql"
        try:
            if postgres:  # SQLite's connections already are (isolation_level=None, see below)
                connection.driver_connection.autocommit = True  # type: ignore[union-attr]
            cursor = connection.cursor()
            try:
                yield cursor
            except dbapi_error as error:
                raise exc.DBAPIError.instance(None, None, error, dbapi_error) from error
            finally:
                cursor.close()
        finally:
            try:
                if postgres:
                    _leave_autocommit(connection)
            finally:
                connection.close()  # back to the pool (or away, if invalidated)

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self._writers is not None:
            self._writers.close()


def _make_engine(url: str, *, pool_size: int, pool_timeout: float, recycle: float) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,  # a bounded pool: PostgreSQL's max_connections is shared by every worker
            pool_timeout=pool_timeout,
            pool_recycle=recycle,
            connect_args={"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3},
        )
        event.listen(engine, "checkout", _replace_if_closed_by_server)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    if _greenlets_share_this_thread():
        # sqlite3 waits for a lock inside C, which blocks every greenlet of the worker: with two
        # connections, one greenlet could wait (up to the busy timeout) for another greenlet that can
        # no longer run to release the lock. One connection per worker, handed on cooperatively.
        engine = create_engine(url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0)
    else:
        engine = create_engine(url, connect_args={"timeout": 30})
    _serialize_sqlite_writes(engine)
    return engine


# psycopg.pq.TransactionStatus.IDLE, libpq's PQTRANS_IDLE: a constant, not an import on every statement
# (nor psycopg's import on SQLite deployments).
_PQTRANS_IDLE = 0


def _leave_autocommit(connection: Any) -> None:
    """Give a pooled psycopg connection back as the pool lent it; one whose state is unclear (it broke
    mid-statement) is invalidated instead, so the original error is the one that propagates."""
    driver = connection.driver_connection
    if not driver.closed and driver.pgconn.transaction_status == _PQTRANS_IDLE:
        driver.autocommit = False
    else:
        connection.invalidate()


def _greenlets_share_this_thread() -> bool:
    """Has gevent patched the standard library (gunicorn's gevent worker does, before loading the app)?"""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("threading"))


def _replace_if_closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled psycopg connection whose socket is readable was closed (or is being closed) by the server."""
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None or dbapi_connection.closed:
        raise exc.DisconnectionError("connection closed")
    try:
        readable, _, _ = select.select([pgconn.socket], [], [], 0)
    except Exception as error:  # psycopg: the socket is gone altogether
        raise exc.DisconnectionError("connection closed") from error
    if readable:
        # SQLAlchemy's documented way: the pool discards this connection and checks out another.
        raise exc.DisconnectionError("the server closed this connection")


class _WriterGate:
    """One SQLite writer at a time, across this process's threads and across processes, waiting in
    the kernel (flock on `<database>.writers`) rather than in SQLite's busy handler.

    SQLite lets one transaction write at a time; the others' BEGIN IMMEDIATE fails with "busy" and
    its handler sleeps 1, 2, 5, 10 ... 100 ms between retries, so under load writers slept while the
    database was free (notify p99 1.4 s on SQLite). A writer waiting here is woken as soon as the
    lock is released. The lock file is opened by each process (gunicorn workers build the app after
    forking): a descriptor shared across a fork would share its lock too.
    """

    def __init__(self, path: Path) -> None:
        self._threads = threading.Lock()  # flock is per descriptor: this process's threads queue here
        self._descriptor = os.open(path.with_name(path.name + ".writers"), os.O_RDWR | os.O_CREAT, 0o600)

    @classmethod
    def for_sqlite(cls, engine: Engine) -> _WriterGate | None:
        database = engine.url.database
        in_memory = not database or database == ":memory:" or "mode=memory" in str(engine.url)
        if engine.dialect.name != "sqlite" or in_memory or database is None:
            return None
        return cls(Path(database.removeprefix("file:").split("?", 1)[0]))

    def close(self) -> None:
        os.close(self._descriptor)

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            fcntl.flock(self._descriptor, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_: object) -> None:
        try:
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
        finally:
            self._threads.release()


def _serialize_sqlite_writes(engine: Engine) -> None:
    # SQLAlchemy's documented recipe: take over transaction control from pysqlite.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if not connection.get_execution_options().get(_SQLITE_AUTOCOMMIT):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class RawStatement:
    """A Core statement compiled once for one database, run on a DBAPI cursor without SQLAlchemy's
    execution machinery (which cost more CPU per notify than the database's own work).

    Parameters go through their columns' bind processors (SQLite stores a datetime as text), so
    values are written exactly as SQLAlchemy writes them. Rows come back as the driver gives them:
    select only columns of plain types (text, integers). `keys`: an INSERT's columns.
    """

    def __init__(self, statement: ClauseElement, engine: Engine, keys: Sequence[str] | None = None) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
        assert isinstance(compiled, SQLCompiler)  # a statement's compiler (binds, positiontup)
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("an IN list of parameters is expanded per call: not for a RawStatement")
        self.sql = compiled.string
        self._positions = compiled.positiontup  # the order of parameters for positional paramstyles
        # Columns whose value SQLAlchemy's own execution computes (an `onupdate`, a Python default not
        # among `keys`): their bind holds no value here, and sending it would write NULL. The caller gives them.
        self._computed = frozenset(column.key for column in (*compiled.insert_prefetch, *compiled.update_prefetch))
        # Values built into the statement (a LIMIT's, say); the caller gives the others.
        self._constants = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if not bind.required and name not in self._computed
        }
        self._processors = {
            name: processor
            for name, bind in compiled.binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }

    def parameters(self, values: Mapping[str, Any]) -> Mapping[str, Any] | tuple[Any, ...]:
        if self._computed and not self._computed <= values.keys():
            missing = ", ".join(sorted(self._computed - values.keys()))
            raise ValueError(f"a RawStatement is not given what SQLAlchemy would compute: {missing}")
        processed = {
            name: processor(value) if (processor := self._processors.get(name)) else value
            for name, value in {**self._constants, **values}.items()
        }
        if self._positions is not None:
            return tuple(processed[name] for name in self._positions)
        return processed

    def execute(self, cursor: Any, values: Mapping[str, Any]) -> Any:
        cursor.execute(self.sql, self.parameters(values))
        return cursor
