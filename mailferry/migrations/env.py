"""Alembic environment for Mailferry: the URL comes from code, never from alembic.ini.

`mailferry.migrate` builds the Alembic `Config` and passes the database URL in
`config.attributes`, so a URL containing `%` (an encoded password) needs no escaping.
"""

from __future__ import annotations

from alembic import context

import mailferry.models  # noqa: F401  (registers every table on the metadata)
from mailferry.db import Base, UTCDateTime, make_engine
from mailferry.migrations.autogenerate_filter import include_object


def render_item(type_, obj, autogen_context):
    """Render `UTCDateTime` columns as plain SQLAlchemy types: migrations must not import
    application code that may change after they are written."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        render_item=render_item,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=is_sqlite,
        # mailferry.db makes SQLite DDL transactional (BEGIN IMMEDIATE), so a failed
        # migration rolls back on both databases instead of leaving half a schema.
        transactional_ddl=True,
    )


def run_migrations_online() -> None:
    engine = make_engine(context.config.attributes["url"], sqlite_foreign_keys=False)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Mailferry migrations run online only: use `mailferry db upgrade`.")
run_migrations_online()
