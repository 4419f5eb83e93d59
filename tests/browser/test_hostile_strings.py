"""Every page a signed-in admin can open, rendered by Chromium with hostile strings in all
the data it shows: nothing executes (no dialog, no `window.__mf_pwned`, no CSP violation —
the `page` fixture fails on those), no `javascript:` link, and the layout holds (no page-wide
horizontal scrolling, even with a 10,000-character subject)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry.db import make_engine
from mailferry.history import TABS
from mailferry.models import User
from tests.browser.hostile import PAYLOADS, plant

#: Not pages: downloads, redirects into a sign-in flow, files, probes; and the add-in's pages,
#: which work only inside Outlook (test_outlook_addin.py renders these strings in them there).
NOT_PAGES = {"static", "health.healthz", "health.readyz", "auth.sign_in", "auth.microsoft_callback",
             "connections.salesforce_callback", "history.export", "admin.audit_log_export",
             "addin.taskpane", "addin.commands", "addin.sign_in", "addin.signed_in", "addin.manifest",
             "addin.asset", "addin.msal_browser"}


def pages(app, values: dict[str, object]) -> list[str]:
    """Every page's path; `values` opens the pages about one row (a user's id)."""
    paths = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
            continue
        if rule.arguments == {"tab"}:
            paths |= {rule.build({"tab": tab})[1] for tab in TABS}
        elif not rule.arguments:
            paths.add(rule.rule)
        elif rule.arguments <= values.keys():
            paths.add(rule.build({name: values[name] for name in rule.arguments})[1])
        else:
            raise AssertionError(f"{rule.rule}: say here which values to open it with")
    return sorted(paths)


def test_hostile_strings_render_inert_on_every_page(signed_in_page, web, demo_users):
    person = demo_users[0]  # the tenant's first user: an admin, so the admin pages open too
    page = signed_in_page(person["userPrincipalName"], start="/connections")
    plant(web.config.database_url, person["userPrincipalName"])
    # The pages about one user open on the admin themselves: their rows hold the payloads.
    engine = make_engine(web.config.database_url)
    with Session(engine) as session:
        admin_id = session.execute(select(User.id).where(User.upn == person["userPrincipalName"].lower())).scalar_one()
    engine.dispose()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(f"{page.url}: {dialog.message}"), dialog.dismiss()))
    problems = []
    for path in pages(web.app, {"user_id": admin_id}):
        response = page.goto(path)
        assert response.status < 500, (path, response.status)
        if page.evaluate("() => window.__mf_pwned !== undefined"):
            problems.append(f"{path}: a payload ran (window.__mf_pwned = {page.evaluate('window.__mf_pwned')})")
        scripted = page.locator('a[href^="javascript:" i], [href^=" javascript:" i]').count()
        if scripted:
            problems.append(f"{path}: {scripted} javascript: link(s)")
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 1:
            problems.append(f"{path}: the page scrolls sideways by {overflow}px")
    assert not dialogs, dialogs
    assert not problems, "\n".join(problems)
    page.goto("/history/unresolved")  # the payloads really were on the pages, as text
    assert page.get_by_text(PAYLOADS[0], exact=False).count() >= 1
    page.goto("/connections")
    assert page.get_by_test_id("salesforce-account").inner_text() == PAYLOADS[0]
