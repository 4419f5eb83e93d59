"""Migrations create exactly the models' schema, and go down and up again, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

import mailferry.models  # noqa: F401
from mailferry import migrate
from mailferry.db import Base, make_engine
from mailferry.migrations.autogenerate_filter import include_object


def _table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _schema_differences(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_object": include_object, "compare_type": True}
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def _search_objects(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                rows = connection.execute(
                    text("SELECT name FROM sqlite_master WHERE name LIKE '%search%'")
                )
            else:
                rows = connection.execute(
                    text("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%search%'")
                )
            return {name for (name,) in rows}
    finally:
        engine.dispose()


MODEL_TABLES = set(Base.metadata.tables)


def test_upgrade_then_downgrade_to_base_then_upgrade_again_on_the_current_backend(
    empty_database_url,
):
    assert migrate.current(empty_database_url) is None

    migrate.upgrade(empty_database_url)
    assert migrate.current(empty_database_url) == migrate.head()
    assert MODEL_TABLES <= _table_names(empty_database_url)

    migrate.downgrade(empty_database_url, "base")
    assert migrate.current(empty_database_url) is None
    assert _table_names(empty_database_url) == {"alembic_version"}
    assert _search_objects(empty_database_url) == set()

    migrate.upgrade(empty_database_url)
    assert migrate.is_up_to_date(empty_database_url)


def test_migrations_round_trip_and_match_the_models_on_sqlite_and_postgresql(both_backends_url):
    migrate.upgrade(both_backends_url)
    assert _schema_differences(both_backends_url) == []

    migrate.downgrade(both_backends_url, "base")
    assert _table_names(both_backends_url) == {"alembic_version"}

    migrate.upgrade(both_backends_url)
    assert _schema_differences(both_backends_url) == []
    assert migrate.current(both_backends_url) == migrate.head()


def test_the_migration_adds_the_search_index_of_each_database(both_backends_url):
    migrate.upgrade(both_backends_url)
    found = _search_objects(both_backends_url)
    if both_backends_url.startswith("sqlite"):
        # The FTS5 tables and the triggers that keep them in step with their tables.
        for table in ("messages", "unmatched_addresses"):
            assert {
                f"{table}_search",
                f"{table}_search_after_insert",
                f"{table}_search_after_delete",
                f"{table}_search_after_update",
            } <= found
    else:
        assert found == {"ix_messages_search_trgm", "ix_unmatched_addresses_search_trgm"}

