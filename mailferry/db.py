"""The database plumbing every process shares: engine, sessions, the declarative base, time.

One schema runs on two databases: an SQLite file (the embedded default, shared by the web
server, workers and scheduler running as separate processes) and PostgreSQL (production and
CI). The differences are handled here, once, so models and queries need not care:

- URLs: ``postgresql://`` and ``postgres://`` (what hosting providers hand out) are pointed
  at the psycopg 3 driver that Mailferry ships with.
- SQLite: foreign keys are off by default (so ON DELETE CASCADE would silently do nothing),
  the rollback journal blocks readers while a worker writes, and a busy database raises at
  once. Each new connection therefore turns foreign keys on, uses WAL and waits for locks.
  Transactions start with ``BEGIN IMMEDIATE``: several processes write to one file, and a
  transaction that read first and then tries to write can fail with SQLITE_BUSY without
  waiting when another process committed in between; taking the write lock up front lets
  the busy timeout do its job instead. It also makes DDL transactional (pysqlite's own
  transaction handling does not), which Alembic relies on. The write lock is the file's
  only one, so a write transaction is kept short and never spans a call to Microsoft or
  Salesforce (the worker commits before each); work that only reads uses a read-only
  session (`make_session_factory(engine, read_only=True)`), which starts with a plain
  ``BEGIN`` and reads its WAL snapshot while others write, never waiting for them.
- Read-only sessions are read-only on both databases (``PRAGMA query_only`` on SQLite, a
  READ ONLY transaction on PostgreSQL): a write slipped into one fails at once in the tests
  rather than taking SQLite's write lock by surprise in production.
- Time: every timestamp is stored and returned as an aware UTC datetime (`UTCDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, create_engine, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

#: Seconds a SQLite connection waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_SECONDS = 30

# Constraint names follow one pattern so Alembic migrations name (and can later drop) the
# same constraint on SQLite and PostgreSQL, instead of each database inventing its own.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the only kind the schema accepts)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in as any aware datetime and always comes out as aware UTC.

    PostgreSQL stores ``timestamptz``. SQLite has no time type: it stores the UTC wall time
    as text, so values are converted to UTC before storing (text order is then time order)
    and marked UTC again when read. Naive datetimes are refused: their meaning depends on
    the machine's clock settings, which is how off-by-hours bugs get in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (e.g. utcnow())")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: JSON documents; JSONB on PostgreSQL (compact, comparable), JSON text on SQLite.
JsonDocument = JSON().with_variant(postgresql.JSONB(), "postgresql")

#: Primary keys of the tables that grow with mail volume. On SQLite it must stay plain
#: INTEGER so the column is the rowid (autoincrementing, and what the FTS index points at).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of every Mailferry table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def normalise_url(url: str) -> str:
    """Point bare PostgreSQL URLs at the psycopg 3 driver; leave anything else as given."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, *, sqlite_foreign_keys: bool = True, **kwargs) -> Engine:
    """An engine for `url`, set up for several Mailferry processes sharing the database.

    `sqlite_foreign_keys=False` exists for migrations only: Alembic's batch mode rebuilds
    SQLite tables by copying and dropping them, and with enforcement on, dropping a parent
    table would cascade into its children. `mailferry.migrate` checks the keys afterwards.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_SECONDS)
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    _configure_sqlite(engine, foreign_keys=sqlite_foreign_keys)
    return engine


def _configure_sqlite(engine: Engine, *, foreign_keys: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Take transaction control away from pysqlite; `_on_begin` issues BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode = WAL")
                # WAL makes NORMAL safe against corruption; only the last commits may be
                # lost on power failure, and the pipeline re-reads Graph state anyway.
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        read_only = bool(connection.get_execution_options().get(_READ_ONLY))
        # The pragma stays with the pooled connection: set it only when this transaction
        # wants the other mode than the connection's last one.
        if connection.info.get(_READ_ONLY, False) != read_only:
            connection.exec_driver_sql(f"PRAGMA query_only = {'ON' if read_only else 'OFF'}")
            connection.info[_READ_ONLY] = read_only
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


#: The execution option that marks a read-only engine (see `make_session_factory`).
_READ_ONLY = "mailferry_read_only"


def reading(engine: Engine) -> Engine:
    """`engine` for work that only reads: on SQLite its transactions take no write lock."""
    return engine.execution_options(**{_READ_ONLY: True, "postgresql_readonly": True})


def make_session_factory(engine: Engine, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions bound to `engine`; `read_only` ones never wait for a writer (nor can write).

    Objects stay readable after commit (`expire_on_commit=False`): web views render them
    after committing and jobs log them; code that needs fresh state re-reads it explicitly.
    """
    return sessionmaker(bind=reading(engine) if read_only else engine, expire_on_commit=False)
