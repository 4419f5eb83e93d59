"""Sync History query time at scale (issue 5): one user's 20,000 rows among 2,000,000.

Builds the rows by bulk insert on SQLite (a temporary file) and on PostgreSQL (a temporary
database on DATABASE_URL's server, else postgresql://postgres@127.0.0.1:5432/postgres,
dropped afterwards), both migrated to the newest revision. Then times the page query of
`mailferry.history` itself (server-side time: the function the web page calls, including
turning rows into objects) for every tab × sortable column × direction, without and with
a search term, and prints p50/p95 per combination and overall. Target: p95 ≤ 50 ms.

    mailferry bench history [--rows 2000000] [--user-rows 20000] [--repeat 10]
                            [--backends sqlite,postgresql] [--term northwind] [--database URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Iterator

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from mailferry import migrate
from mailferry.config import Config
from mailferry.db import make_engine, normalise_url
from mailferry.history import TABS, View, page_query, tab_counts
from mailferry.models import Mailbox, Tenant, User
from mailferry.models.history import SEARCH_SUBJECT_LENGTH, _search_text

TARGET_MS = 50.0
LOCAL_POSTGRESQL = "postgresql://postgres@127.0.0.1:5432/postgres"
#: Share of each user's messages per status (the rest: skipped, ignored, expired).
STATUS_MIX = (("unresolved", 0.40), ("synced", 0.35), ("excluded", 0.15), ("skipped", 0.04),
              ("ignored", 0.03), ("expired", 0.03))
WORDS = ("proposal renewal invoice meeting follow-up quote contract pricing demo lunch update weekly "
         "report budget forecast order shipment delivery question intro call notes agenda review "
         "draft final signed license support ticket onboarding training webinar event partner "
         "discount offer trial feedback survey roadmap launch release plan q1 q2 q3 q4").split()
COMPANIES = ("acme globex initech umbrella hooli stark wayne wonka tyrell cyberdyne soylent "
             "vandelay pied-piper aperture blackmesa oscorp massive dynamic gringotts monarch "
             "northwind contoso fabrikam adventure-works tailspin woodgrove litware proseware "
             "fourthcoffee alpine wideworld margie trey lucerne coho humongous").split()
FIRST = "ann bob cara dan eve finn gail hugo ines jon kai lena milo nora omar pia quin rosa sam tia".split()
LAST = "ng doe smith lee garcia mueller rossi kim novak silva brown jones ito khan park".split()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=2_000_000, help="messages and unmatched rows each (default 2,000,000)")
    parser.add_argument("--user-rows", type=int, default=20_000, help="rows each user holds (default 20,000)")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per combination (default 10)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated (default both)")
    parser.add_argument("--term", default="northwind", help="the search term (default: a company name)")
    parser.add_argument("--database", help="measure a database this benchmark built before (kept by "
                                           "interrupting a run with SIGKILL) instead of building one")


def run(config: Config, args: argparse.Namespace) -> int:
    users = max(1, args.rows // args.user_rows)
    print(f"mailferry bench history: {users * args.user_rows:,} messages and as many unmatched addresses, "
          f"{users} users of {args.user_rows:,} rows each; {args.repeat} timed runs per combination; "
          f"search term {args.term!r}; target p95 ≤ {TARGET_MS:.0f} ms")
    failures = 0
    if args.database:
        migrate.upgrade(args.database)  # an index added since it was built
        return 1 if _measure(args.database, _measured_user(args.database), args.repeat, args.term) else 0
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        with _database(backend) as url:
            started = time.perf_counter()
            user_id = _build(url, users, args.user_rows)
            print(f"\n[{backend}] built in {time.perf_counter() - started:.0f} s")
            failures += _measure(url, user_id, args.repeat, args.term)
    return 1 if failures else 0


# --- databases ------------------------------------------------------------------------------

@contextmanager
def _database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="mfbench-history-", dir="/tmp") as folder:
            yield f"sqlite:///{Path(folder) / 'history.db'}"
        return
    server = os.environ.get("DATABASE_URL") or LOCAL_POSTGRESQL
    if make_url(normalise_url(server)).get_backend_name() != "postgresql":
        server = LOCAL_POSTGRESQL
    name = f"mailferry_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(server, isolation_level="AUTOCOMMIT", pool_size=1)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(server)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- building the rows ----------------------------------------------------------------------

def _build(url: str, users: int, per_user: int) -> int:
    """Migrate, add tenants/users/mailboxes, bulk-load the rows; returns the measured user."""
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            tenant = Tenant(tid="bench", name="Bench", primary_domain="bench.example")
            session.add(tenant)
            session.flush()
            people = [User(tenant_id=tenant.id, oid=f"oid-{n}", upn=f"rep{n}@bench.example",
                           email=f"rep{n}@bench.example", display_name=f"Rep {n}") for n in range(users)]
            session.add_all(people)
            session.flush()
            boxes = [Mailbox(tenant_id=tenant.id, user_id=u.id, address=u.upn) for u in people]
            session.add_all(boxes)
            session.commit()
            tenant_id, user_ids = tenant.id, [u.id for u in people]
            mailboxes = {b.user_id: b.id for b in boxes}
        loader = _SqliteLoader(engine) if engine.dialect.name == "sqlite" else _PostgresLoader(engine)
        loader.load(tenant_id, user_ids, mailboxes, per_user)
        return user_ids[len(user_ids) // 2]
    finally:
        engine.dispose()


MESSAGE_COLUMNS = ("tenant_id", "user_id", "mailbox_id", "graph_id", "internet_message_id", "folder", "direction",
                   "subject", "subject_sort", "from_address", "from_name", "to_cc", "participants", "sent_at",
                   "categories", "status", "reason", "error_code", "error_message", "attempts", "first_seen_at",
                   "last_attempt_at", "next_attempt_at", "expires_at", "synced_at", "search_text", "updated_at")
UNMATCHED_COLUMNS = ("tenant_id", "user_id", "address", "display_name", "display_name_sort", "domain",
                     "emails_count", "last_subject", "first_seen_at", "last_seen_at", "search_text")


def _person(rng: random.Random) -> tuple[str, str]:
    first, last, company = rng.choice(FIRST), rng.choice(LAST), rng.choice(COMPANIES)
    return f"{first}.{last}@{company}.example", f"{first.capitalize()} {last.capitalize()}"


def _messages(rng: random.Random, tenant_id: int, user_id: int, mailbox_id: int, count: int, now: datetime):
    statuses = []
    for status, share in STATUS_MIX:
        statuses += [status] * round(count * share)
    statuses = (statuses + ["unresolved"] * count)[:count]
    rng.shuffle(statuses)
    own = f"rep{user_id}@bench.example"
    for n, status in enumerate(statuses):
        sent = now - timedelta(seconds=rng.randrange(30 * 86400))
        first_seen = sent + timedelta(seconds=rng.randrange(600))
        subject = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 9))).capitalize()
        people = [_person(rng) for _ in range(rng.randrange(1, 4))]
        incoming = rng.random() < 0.6
        sender = people[0] if incoming else (own, "Rep")
        recipients = [(own, "Rep")] if incoming else people
        participants = [{"address": sender[0], "name": sender[1], "role": "from"}] + [
            {"address": a, "name": nm, "role": "to"} for a, nm in recipients]
        to_cc = "; ".join(f"{nm} <{a}>" for a, nm in recipients)
        search = _search_text(subject[:SEARCH_SUBJECT_LENGTH], sender[0], sender[1],
                              *[v for p in participants for v in (p["address"], p["name"])])
        unresolved = status == "unresolved"
        reason = {"unresolved": rng.choice(("no_match", "no_match", "system_error")), "excluded":
                  rng.choice(("donotsync_category", "do_not_record_address", "no_match")),
                  "skipped": "no_candidates", "ignored": "ignore_email", "expired": "no_match"}.get(status)
        yield (tenant_id, user_id, mailbox_id, f"AAMk{user_id}-{n}", f"<{user_id}.{n}@bench.example>", "inbox",
               "incoming" if incoming else "outgoing", subject, subject.lower()[:128], sender[0], sender[1], to_cc,
               json.dumps(participants), sent, "[]", status, reason,
               "UNABLE_TO_LOCK_ROW" if reason == "system_error" else None, None, rng.randrange(1, 12), first_seen,
               first_seen, now + timedelta(minutes=rng.randrange(1, 720)) if unresolved else None,
               first_seen + timedelta(days=30), sent + timedelta(minutes=1) if status == "synced" else None,
               search, now)


def _unmatched(rng: random.Random, tenant_id: int, user_id: int, count: int, now: datetime):
    for n in range(count):
        company = rng.choice(COMPANIES)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        address = f"{first}.{last}{n}@{company}{n % 97}.example"
        name = f"{first.capitalize()} {last.capitalize()}"
        subject = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 8))).capitalize()
        first_seen = now - timedelta(seconds=rng.randrange(30 * 86400))
        yield (tenant_id, user_id, address, name, name.lower(), address.split("@")[1], rng.randrange(1, 40), subject,
               first_seen, first_seen + timedelta(seconds=rng.randrange(86400)),
               _search_text(address, name, subject))


class _Loader:
    def __init__(self, engine):
        self.engine = engine

    def load(self, tenant_id: int, user_ids: list[int], mailboxes: dict[int, int], per_user: int) -> None:
        rng = random.Random(5)
        now = datetime.now(UTC)
        self.before()
        for user_id in user_ids:
            self.insert_messages(_messages(rng, tenant_id, user_id, mailboxes[user_id], per_user, now))
            self.insert_unmatched(_unmatched(rng, tenant_id, user_id, per_user, now))
        self.after()
        self.add_records(user_ids[len(user_ids) // 2])

    def add_records(self, user_id: int) -> None:
        """One recorded Contact per synced email of the measured user (the Synced tab loads them)."""
        with self.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO message_records (message_id, sobject_type, record_id, name, address, recorded, position) "
                "SELECT id, 'Contact', '003' || substr('000000000000000' || id, -15, 15), from_name, from_address, "
                "true, 0 FROM messages WHERE user_id = :u AND status = 'synced'"), {"u": user_id})


class _SqliteLoader(_Loader):
    """executemany on the raw connection; indexes and the FTS triggers are set aside during
    the load and rebuilt after it (one sort per index instead of 2,000,000 inserts)."""

    TABLES = ("messages", "unmatched_addresses")

    def before(self) -> None:
        self.raw = self.engine.raw_connection()
        cursor = self.raw.cursor()
        self.saved = cursor.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN ('messages', 'unmatched_addresses') "
            "AND type IN ('index', 'trigger') AND sql IS NOT NULL").fetchall()
        for kind, name, _ in self.saved:
            cursor.execute(f'DROP {kind.upper()} "{name}"')
        cursor.execute("PRAGMA synchronous = OFF")

    def _insert(self, table: str, columns: tuple[str, ...], rows) -> None:
        marks = ", ".join("?" for _ in columns)
        converted = ([_sqlite_value(v) for v in row] for row in rows)
        cursor = self.raw.cursor()
        cursor.execute("BEGIN")
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", converted)
        cursor.execute("COMMIT")

    def insert_messages(self, rows) -> None:
        self._insert("messages", MESSAGE_COLUMNS, rows)

    def insert_unmatched(self, rows) -> None:
        self._insert("unmatched_addresses", UNMATCHED_COLUMNS, rows)

    def after(self) -> None:
        cursor = self.raw.cursor()
        for kind, _, sql in self.saved:
            if kind == "index":
                cursor.execute(sql)
        for table in self.TABLES:
            cursor.execute(f"INSERT INTO {table}_search({table}_search) VALUES ('rebuild')")
        for kind, _, sql in self.saved:
            if kind == "trigger":
                cursor.execute(sql)
        cursor.execute("ANALYZE")
        cursor.execute("PRAGMA synchronous = NORMAL")
        self.raw.close()


def _sqlite_value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


class _PostgresLoader(_Loader):
    """COPY; secondary indexes are dropped for the load and created again after it."""

    def before(self) -> None:
        with self.engine.begin() as connection:
            self.saved = connection.execute(text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename IN ('messages', 'unmatched_addresses') "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)")).all()
            for name, _ in self.saved:
                connection.execute(text(f'DROP INDEX "{name}"'))

    def _copy(self, table: str, columns: tuple[str, ...], rows) -> None:
        raw = self.engine.raw_connection()
        try:
            with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()

    def insert_messages(self, rows) -> None:
        self._copy("messages", MESSAGE_COLUMNS, rows)

    def insert_unmatched(self, rows) -> None:
        self._copy("unmatched_addresses", UNMATCHED_COLUMNS, rows)

    def after(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(text("SET maintenance_work_mem = '512MB'"))
            for _, definition in self.saved:
                connection.execute(text(definition))
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE messages"))
            connection.execute(text("VACUUM ANALYZE unmatched_addresses"))


def _measured_user(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            ids = list(connection.execute(text("SELECT id FROM users ORDER BY id")).scalars())
        return ids[len(ids) // 2]
    finally:
        engine.dispose()


# --- measuring ------------------------------------------------------------------------------

def _measure(url: str, user_id: int, repeat: int, term: str) -> int:
    engine = make_engine(url)
    misses, every = 0, []
    try:
        with Session(engine) as session:
            counts = tab_counts(session, user_id)
            count_times = _times(lambda: tab_counts(session, user_id), session, repeat)
            print(f"  the user's rows per tab: {counts}; tab counts p50 {_p(count_times, 50):.1f} ms, "
                  f"p95 {_p(count_times, 95):.1f} ms")
            print(f"  {'tab':<11}{'sort':<13}{'dir':<5}{'search':<11}{'rows':>5}{'p50 ms':>9}{'p95 ms':>9}")
            for tab in TABS.values():
                for column in [c for c in tab.columns if c.sortable]:
                    for direction in ("asc", "desc"):
                        for query in ("", term):
                            view = View.of(tab.key, column.key, direction, query)
                            found = len(page_query(session, user_id, view).rows)  # warm-up
                            times = _times(lambda: page_query(session, user_id, view), session, repeat)
                            every += times
                            p95 = _p(times, 95)
                            flag = "" if p95 <= TARGET_MS else "  MISSED"
                            misses += p95 > TARGET_MS
                            print(f"  {tab.key:<11}{column.key:<13}{direction:<5}{(query or '-'):<11}{found:>5}"
                                  f"{_p(times, 50):>9.1f}{p95:>9.1f}{flag}")
        print(f"  overall: {len(every)} queries, p50 {_p(every, 50):.1f} ms, p95 {_p(every, 95):.1f} ms, "
              f"max {max(every):.1f} ms; combinations over target: {misses}")
    finally:
        engine.dispose()
    return misses


def _times(call, session: Session, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        session.expunge_all()
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    session.rollback()
    return times


def _p(values: list[float], percentile: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percentile - 1]
