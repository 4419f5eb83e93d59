"""One user's largest Sync History Save does not stall anyone else (issue 12, finding 2): the
real web server (`mailferry web`: gunicorn, two processes) on an SQLite file of its own, user
A posting a Save at every field's limit while user B loads their Sync History again and again.
B's page must answer 200 within 2 s every time; the review measured 97 s for A's Save and
500 "database is locked" for B."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from http.cookiejar import DefaultCookiePolicy
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from cli.processes import free_port
from mailferry import migrate
from mailferry.db import make_engine, utcnow
from mailferry.models import IgnoreEntry, Message, UnmatchedAddress
from mailferry.tls import https_session
from server import create_app
from server.request_limits import MAX_VALUES_PER_FIELD
from tests.config_fixtures import build_config
from tests.db import factories
from tests.db_fixtures import sqlite_url
from tests.mailferry_run import wait_healthy
from tests.web_fixtures import sign_in_session

#: A's history: enough Unresolved emails and Unmatched rows that deciding them one entry at a
#: time (the old way) took minutes.
UNRESOLVED = 5_000
PAGE_LIMIT_SECONDS = 2.0
SAVE_LIMIT_SECONDS = 60


@pytest.fixture
def web_process(tmp_path, certs, redis_url):
    """`mailferry web` on a migrated SQLite file, whatever DATABASE_URL says (the stall is
    SQLite's single write lock)."""
    (tmp_path / "db").mkdir()
    database_url = sqlite_url(tmp_path / "db")
    migrate.upgrade(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFERRY_")}
    env.update(MAILFERRY_DATA_DIR=str(tmp_path / "data"), MAILFERRY_CERTS_DIR=str(certs.folder),
               MAILFERRY_PORT=str(free_port()), MAILFERRY_SANDBOX_MICROSOFT_PORT=str(free_port()),
               MAILFERRY_SANDBOX_SALESFORCE_PORT=str(free_port()), DATABASE_URL=database_url,
               REDIS_URL=redis_url, MAILFERRY_LOG_LEVEL="warning")
    # The same data folder gives this app the server's secret key: its cookies sign people in.
    cookie_app = create_app(build_config(env["MAILFERRY_DATA_DIR"], **env))
    process = subprocess.Popen([sys.executable, "-m", "cli.main", "web"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_healthy(process, env)
        yield SimpleNamespace(url=f"https://localhost:{env['MAILFERRY_PORT']}", app=cookie_app,
                              engine=make_engine(database_url), ca=certs.ca_cert)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _browser(web_process, user_id: int):
    """A requests session signed in as `user_id`, as a browser on our origin, and the CSRF
    token of its session. The cookie is minted by the same app in-process (its sign-in
    recorded in the shared Redis) and sent as is: cookies the server sets are not kept, so
    the session never forks into two cookies of one name."""
    client = web_process.app.test_client()
    client.environ_base.update(HTTP_REFERER="https://localhost/history", **{"wsgi.url_scheme": "https"})
    sign_in_session(client, SimpleNamespace(id=user_id))
    page = client.get("/ignore-list").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    browser = https_session(web_process.ca)
    browser.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    browser.headers.update(Cookie=f"session={client.get_cookie('session').value}", Referer=web_process.url + "/history",
                           Origin=web_process.url)
    return browser, token


def _seed(engine):
    """User A: UNRESOLVED emails to A, email i from p<i>@d<i mod 3000>.example, and an Unmatched
    row per sender; user B, a colleague, with a few emails."""
    with Session(engine, expire_on_commit=False) as session:
        tenant = factories.tenant(session)
        a, b = factories.user(session, tenant), factories.user(session, tenant)
        a_box, b_box = factories.mailbox(session, a), factories.mailbox(session, b)
        now = utcnow()

        def rows(user, box, count, prefix):
            return [dict(tenant_id=tenant.id, user_id=user.id, mailbox_id=box.id, graph_id=f"{prefix}{i}",
                         internet_message_id=f"<{prefix}{i}@mail.example>", direction="incoming",
                         subject=f"Subject {i}", sent_at=now - timedelta(minutes=i), status="unresolved",
                         reason="no_match", first_seen_at=now, expires_at=now + timedelta(days=30),
                         next_attempt_at=now + timedelta(days=1),
                         participants=[{"address": f"p{i}@d{i % 3000}.example", "name": f"P {i}", "role": "from"},
                                       {"address": user.upn, "name": "Me", "role": "to"}])
                    for i in range(count)]

        session.execute(insert(Message), rows(a, a_box, UNRESOLVED, "a"))
        session.execute(insert(Message), rows(b, b_box, 20, "b"))
        session.execute(insert(UnmatchedAddress), [
            dict(tenant_id=tenant.id, user_id=a.id, address=f"p{i}@d{i % 3000}.example", domain=f"d{i % 3000}.example")
            for i in range(UNRESOLVED)])
        session.commit()
        a_ids = session.scalars(Message.__table__.select().with_only_columns(Message.id)
                                .where(Message.user_id == a.id).limit(MAX_VALUES_PER_FIELD)).all()
        return a.id, b.id, a_ids


def test_another_users_page_answers_within_2_s_while_a_maximal_save_runs(web_process):
    a_id, b_id, a_message_ids = _seed(web_process.engine)
    (a, token), (b, _) = _browser(web_process, a_id), _browser(web_process, b_id)
    for browser in (a, b):  # signed in on the real server, and warm
        page = browser.get(web_process.url + "/history/unresolved", timeout=30, allow_redirects=False)
        assert page.status_code == 200 and 'data-testid="history-row"' in page.text, page.text[:500]

    form = {"csrf_token": token, "ignore_email": [str(i) for i in a_message_ids],
            "ignore_domain": [f"d{i}.example" for i in range(MAX_VALUES_PER_FIELD)],
            "ignore_address": [f"p{i}@d{i % 3000}.example" for i in range(1000, 1000 + MAX_VALUES_PER_FIELD)]}
    outcome: dict = {}

    def save():
        started = time.monotonic()
        try:
            outcome["response"] = a.post(web_process.url + "/history/unresolved/save", data=form, timeout=SAVE_LIMIT_SECONDS,
                                         allow_redirects=False)
        except Exception as error:  # a timeout is reported below, with B's figures
            outcome["error"] = error
        outcome["seconds"] = time.monotonic() - started

    saving = threading.Thread(target=save)
    saving.start()
    answers: list[tuple[int, float]] = []
    while saving.is_alive() or len(answers) < 3:
        started = time.monotonic()
        try:
            status = b.get(web_process.url + "/history/unresolved", timeout=PAGE_LIMIT_SECONDS * 5,
                           allow_redirects=False).status_code
        except Exception:
            status = 0
        answers.append((status, time.monotonic() - started))
        if status != 200 or answers[-1][1] >= PAGE_LIMIT_SECONDS:
            break
    saving.join(SAVE_LIMIT_SECONDS + 5)
    slowest = max(seconds for _, seconds in answers)
    print(f"\nA's Save: {outcome.get('seconds', 0):.2f} s; B's page: {len(answers)} loads, "
          f"slowest {slowest:.3f} s, statuses {sorted({s for s, _ in answers})}")
    assert all(status == 200 for status, _ in answers), answers
    assert slowest < PAGE_LIMIT_SECONDS, answers
    assert "error" not in outcome, outcome
    response = outcome["response"]
    assert response.status_code == 302 and response.headers["Location"].startswith("/history/unresolved")

    # What SPEC section 4 asks, in bulk: emails 0-999 ignored; 1000-1999 (ignored address) and
    # 3000-3999 (ignored domain d0-d999) have nobody left to look up: skipped at once; the
    # other 2,000 are due now; only their senders stay Unmatched. B's rows are untouched.
    with Session(web_process.engine) as session:
        def count(model, **where):
            return session.query(model).filter_by(**where).count()

        assert count(IgnoreEntry, user_id=a_id) == 2 * MAX_VALUES_PER_FIELD
        assert count(Message, user_id=a_id, status="ignored") == MAX_VALUES_PER_FIELD
        assert count(Message, user_id=a_id, status="skipped", reason="no_candidates") == 2000
        unresolved = session.query(Message).filter_by(user_id=a_id, status="unresolved").all()
        assert len(unresolved) == 2000 and all(row.next_attempt_at <= utcnow() for row in unresolved)
        assert {int(row.graph_id[1:]) // 1000 for row in unresolved} == {2, 4}
        assert count(UnmatchedAddress, user_id=a_id) == 2000
        assert count(Message, user_id=b_id, status="unresolved") == 20
