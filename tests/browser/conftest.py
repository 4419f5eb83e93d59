"""Browser tests: Debian's Chromium, driven by Playwright, against the real stack over HTTPS.

- `web`: both sandbox servers (tests/sandbox_fixtures.py) and the web app (`server.create_app`) on https://localhost
  ports, on a database and Redis of their own; each test starts with the sandboxes reset to
  the demo seed and the app's database empty.
- `page`: a fresh browser context (no cookies) whose certificate checks stay on: Chromium
  trusts our test server key by its SPKI pin (see `browser`), never "ignore all errors".
- `signed_in_page(upn)`: signs in through the sandbox's Microsoft sign-in page.
- `tests.browser.axe.assert_accessible(page)`: no serious or critical axe-core violation.
- A Content-Security-Policy violation on any page fails the test (`page` records them).
- `sync_engine`: the sync engine run in-process (no worker here), `mailbox_of(upn)`; `deliver`:
  mail into a sandbox mailbox; `expect` waits as long as any other step (autouse).

Every test here is marked `browser` automatically. A missing Chromium or axe-core fails the
tests with the fix; they are never skipped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from cli.demo import connect_demo_users
from cli.processes import free_port
from mailferry import migrate
from mailferry.models import Mailbox, User
from tests.browser.stack import CHROMIUM, TIMEOUT_MS, clear_database, spki_hash, web_config
from tests.db_fixtures import current_backend, empty_database
from tests.https_server import start_https
from worker.runtime import Runtime, use_runtime

CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
)
#: Chromium's start-up on a loaded machine.
LAUNCH_TIMEOUT_MS = 120_000


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@dataclass
class Web:
    """The running stack: the app's URL and config, and the sandboxes' URLs."""

    url: str
    config: object
    microsoft: str
    salesforce: str
    app: object = None  # the Flask app being served (its url_map lists the pages)


@pytest.fixture(scope="session")
def web_stack(tmp_path_factory, certs, redis_url, sandbox_settings, microsoft_app, salesforce_app):
    from server import create_app

    folder = tmp_path_factory.mktemp("web")
    with empty_database(current_backend(), folder) as database_url:
        migrate.upgrade(database_url)
        config = web_config(folder / "data", database_url, redis_url, certs, free_port(),
                            sandbox_settings.microsoft_url, sandbox_settings.salesforce_url)
        app = create_app(config)
        server, url = start_https(app, certs, port=config.web_port)
        assert url == config.base_url, (url, config.base_url)
        try:
            yield Web(url, config, sandbox_settings.microsoft_url, sandbox_settings.salesforce_url, app)
        finally:
            server.shutdown()


@pytest.fixture
def web(web_stack, demo_microsoft_url, demo_salesforce_url) -> Web:
    """The stack, with the sandboxes just reset (`microsoft`, `salesforce`) and no app data."""
    clear_database(web_stack.config.database_url)
    return web_stack


@pytest.fixture(scope="session")
def browser(certs):
    """Chromium, trusting exactly our test server key.

    `--ignore-certificate-errors-spki-list` names the SHA-256 of the localhost certificate's
    public key: Chromium still verifies every certificate and accepts an otherwise untrusted
    chain only when it carries that key (ours). The alternatives were worse: importing the
    CA needs an NSS database (certutil, a profile per run), and `ignore_https_errors=True`
    would accept any certificate at all.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: install Debian's package (`apt-get install chromium`); "
                    "the browser tests never download a browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            timeout=LAUNCH_TIMEOUT_MS,
            args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={spki_hash(certs.server_cert)}"],
        )
        yield chromium
        chromium.close()


@dataclass
class PageProblems:
    """What the page reported that a test must not ignore."""

    csp_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture
def page(browser, web):
    context = browser.new_context(ignore_https_errors=False, base_url=web.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems = PageProblems()

    def on_console(message):
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.csp_violations.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.page_errors.append(f"{page.url}: {error}"))
    page.problems = problems
    yield page
    context.close()
    own = [v for v in problems.csp_violations if v.startswith(web.url)]
    assert not own, "Content-Security-Policy violations:\n" + "\n".join(own)
    assert not problems.page_errors, "script errors:\n" + "\n".join(problems.page_errors)


@pytest.fixture
def signed_in_page(page, web):
    """`signed_in_page(upn, start="/")`: the page, signed in as `upn` through the sandbox's
    Microsoft sign-in page (the real msal flow), back on the app. From "/" it clicks "Sign in
    with Microsoft" and lands on the home page; any other `start` is a page that requires
    signing in, opened directly, and the app comes back to it."""

    def sign_in(upn: str, start: str = "/"):
        page.goto(start)
        if start == "/":
            page.get_by_test_id("sign-in-microsoft").click()
        page.wait_for_url(re.compile("^" + re.escape(web.microsoft)))
        page.locator(f'[data-testid="sign-in-user"][data-upn="{upn}"]').click()
        page.wait_for_url(re.compile("^" + re.escape(web.url) + r"/(?!auth/)"))
        assert page.get_by_test_id("signed-in-as").is_visible(), page.content()[:2000]
        return page

    return sign_in


@pytest.fixture
def demo_users(web, client_session) -> list[dict]:
    """The sandbox tenant's users (`userPrincipalName`, `displayName`, `salesforceUsername`…)."""
    answer = client_session.get(f"{web.microsoft}/_sandbox/users", timeout=30)
    answer.raise_for_status()
    return answer.json()["users"]


@pytest.fixture(autouse=True)
def patient_expectations():
    """`expect` waits as long as any other browser step (CI machines are loaded)."""
    expect.set_options(timeout=TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default


@pytest.fixture
def sync_engine(web):
    """The sync engine in this process, on the web app's database and Redis, with every demo
    user provisioned and their Salesforce connected (as `make run` does): the tenant's first
    user is its admin. Returns `mailbox_of(upn)`."""
    runtime = Runtime(web.config)
    use_runtime(runtime)
    connect_demo_users(web.config)

    def mailbox_of(upn: str) -> int:
        with runtime.sessions() as session:
            user = session.execute(select(User).where(User.upn == upn.lower())).scalar_one()
            return session.execute(select(Mailbox.id).where(Mailbox.user_id == user.id)).scalar_one()

    yield mailbox_of
    use_runtime(None)
    runtime.engine.dispose()


@pytest.fixture
def deliver(web, client_session):
    """Mail into a sandbox mailbox through the Microsoft sandbox's control API."""

    def send(upn: str, sender: str, subject: str, name: str | None = None) -> None:
        sender_field = {"address": sender, **({"name": name} if name else {})}
        answer = client_session.post(f"{web.microsoft}/_sandbox/users/{upn}/messages", timeout=30, json={
            "from": sender_field, "to": [{"address": upn}], "subject": subject, "body": "Hello."})
        assert answer.status_code == 201, answer.text

    return send
