"""Schema migrations as plain functions: what `mailferry db upgrade|downgrade|current` runs.

Alembic is configured entirely in code (no alembic.ini): the scripts live in
`mailferry/migrations/`, and the URL travels in `Config.attributes` (see env.py).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from mailferry.db import make_engine, normalise_url

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class MigrationError(RuntimeError):
    """A migration left the database inconsistent (e.g. rows pointing at missing rows)."""


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the database at `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = normalise_url(url)
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision` (creating the schema if empty)."""
    command.upgrade(alembic_config(url), revision)
    _check_sqlite_foreign_keys(url)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at `url` down to `revision` (`"base"` removes every table)."""
    command.downgrade(alembic_config(url), revision)
    _check_sqlite_foreign_keys(url)


def current(url: str) -> str | None:
    """The revision the database at `url` is at, or None if it was never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def is_up_to_date(url: str) -> bool:
    """Whether the database at `url` is at the newest revision (for start-up checks)."""
    return current(url) == head()


def schema_refusal(url: str) -> str | None:
    """Why this code must not run on the database at `url` (its schema is not the one the
    code expects), naming both revisions and the fix; None when the schema is current."""
    at, expected = current(url), head()
    if at == expected:
        return None
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()}
    if at is not None and at not in known:
        return (f"the database schema is at revision {at}, which this version of Mailferry does not know (it "
                f"expects {expected}): a newer Mailferry migrated it; run that version, or restore a backup")
    return (f"the database schema is at revision {at or 'base (empty)'}, this version of Mailferry expects "
            f"{expected}: run `mailferry db upgrade` first")


def _check_sqlite_foreign_keys(url: str) -> None:
    # SQLite migrations run with foreign keys off (see mailferry.db.make_engine), so
    # nothing stopped a migration from orphaning rows; refuse to carry on if it did.
    engine = make_engine(url)
    try:
        if engine.dialect.name != "sqlite":
            return
        with engine.connect() as connection:
            problems = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
        if problems:
            raise MigrationError(f"foreign keys broken after migration: {problems[:10]}")
    finally:
        engine.dispose()
