"""The engine: driver choice for PostgreSQL URLs, and SQLite set up for several processes."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from mailferry.db import SQLITE_BUSY_TIMEOUT_SECONDS, make_engine, make_session_factory, normalise_url


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://u:p@db.example:5432/mailferry",
        "postgres://u:p@db.example:5432/mailferry",
        "postgresql+psycopg://u:p@db.example:5432/mailferry",
    ],
)
def test_postgresql_urls_without_a_driver_use_psycopg_3(given):
    assert normalise_url(given) == "postgresql+psycopg://u:p@db.example:5432/mailferry"
    assert make_engine(given).dialect.driver == "psycopg"


def test_other_urls_are_left_as_given():
    assert normalise_url("sqlite:///data/mailferry.db") == "sqlite:///data/mailferry.db"


def test_sqlite_connections_enforce_foreign_keys_use_wal_and_wait_for_locks(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'mailferry.db'}")
    with engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("foreign_keys") == 1
        assert pragma("journal_mode") == "wal"
        assert pragma("busy_timeout") == SQLITE_BUSY_TIMEOUT_SECONDS * 1000
    # The data folder did not exist: the engine made it.
    assert (tmp_path / "data" / "mailferry.db").exists()
    engine.dispose()


def test_sqlite_transactions_are_real_so_a_rollback_undoes_ddl_and_rows(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'mailferry.db'}")
    with engine.connect() as connection:
        with connection.begin() as transaction:
            connection.execute(text("CREATE TABLE scratch (n INTEGER)"))
            connection.execute(text("INSERT INTO scratch VALUES (1)"))
            transaction.rollback()
        tables = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE name = 'scratch'"
        ).all()
    assert tables == []
    engine.dispose()


def test_processes_sharing_a_sqlite_file_wait_for_each_other_instead_of_failing(tmp_path):
    """Read-then-write transactions from separate engines (as web and workers are) all
    succeed: each takes the write lock up front and the others wait their turn."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    setup = make_engine(url)
    with setup.begin() as connection:
        connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))
    setup.dispose()

    errors: list[Exception] = []
    increments_per_writer = 25

    def writer() -> None:
        engine = make_engine(url)
        try:
            for _ in range(increments_per_writer):
                with engine.begin() as connection:
                    n = connection.execute(text("SELECT n FROM counter")).scalar_one()
                    connection.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    check = make_engine(url)
    with check.connect() as connection:
        assert connection.execute(text("SELECT n FROM counter")).scalar_one() == 75
    check.dispose()


def test_a_read_only_session_reads_at_once_while_another_process_holds_the_sqlite_write_lock(tmp_path):
    """What keeps /healthz and the pages answering while a worker writes: the reader sees
    the last committed state without waiting (a writing session would wait up to 30 s)."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    writer_engine, reader_engine = make_engine(url), make_engine(url)
    with writer_engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counter VALUES (1)"))
    with writer_engine.connect() as writer:
        writer.begin()
        writer.execute(text("UPDATE counter SET n = 2"))  # holds the write lock, not committed
        began = time.monotonic()
        with make_session_factory(reader_engine, read_only=True)() as reader:
            assert reader.execute(text("SELECT n FROM counter")).scalar_one() == 1
        read_seconds = time.monotonic() - began
        writer.rollback()
    assert read_seconds < 0.5
    writer_engine.dispose()
    reader_engine.dispose()


def test_a_read_only_session_cannot_write_and_leaves_its_connection_writable(both_backends_url):
    engine = make_engine(both_backends_url, pool_size=1)  # one connection: the writer gets the reader's
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE scratch (n INTEGER)"))
    with make_session_factory(engine, read_only=True)() as reader:
        with pytest.raises(DBAPIError, match="(?i)read.?only"):
            reader.execute(text("INSERT INTO scratch VALUES (1)"))
    with make_session_factory(engine)() as writer:  # the same pooled connection, writable again
        writer.execute(text("INSERT INTO scratch VALUES (2)"))
        writer.commit()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT n FROM scratch")).scalars().all() == [2]
    engine.dispose()
