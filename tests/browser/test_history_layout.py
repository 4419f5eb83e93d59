"""Sync History fits the screen: at a 1280×800 window every column of every tab is on
screen without sideways scrolling (neither the page nor the table), and an Unresolved row's
actions (Retry now, Ignore Email / Address / Domain, Create Contact / Lead) are in view and
take a real click; even with a long subject and an unbroken sender address in the row. At
800 px the table scrolls in its own box (never the page) and the actions column stays on
screen and usable."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from mailferry.history import TABS
from tests.browser.axe import assert_accessible
from tests.browser.stack import history_row
from worker import jobs

LONG_SUBJECT = "Probe layout " + " ".join(f"quarterly-forecast-{n}" for n in range(40))
UNBROKEN_ADDRESS = "a" * 60 + "@" + "unbrokendomainnamewithoutanyplacetowrapatall0123456789" + ".example"
ACTIONS = ("retry-now", "ignore-email", "ignore-address", "ignore-domain", "create-contact", "create-lead")


def _overflow(page) -> dict:
    """How far the page and the table's own box scroll sideways (0: not at all)."""
    return page.evaluate("""() => {
        const box = document.querySelector('[data-testid="table-scroll"]');
        return {page: document.documentElement.scrollWidth - window.innerWidth,
                table: box ? box.scrollWidth - box.clientWidth : 0};
    }""")


def _on_screen_and_on_top(page, locator) -> str | None:
    """None when the element lies wholly inside the window and is what a click at its
    centre hits; else what is wrong."""
    return locator.evaluate("""(el) => {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) return 'not rendered';
        if (r.left < 0 || r.right > window.innerWidth) return `x ${r.left}-${r.right} outside 0-${window.innerWidth}`;
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return hit && (hit === el || el.contains(hit) || (hit.control === el)) ? null : `covered by ${hit && hit.outerHTML.slice(0, 80)}`;
    }""")


def _prepare(demo_users, sync_engine, deliver) -> str:
    upn = demo_users[0]["userPrincipalName"]
    mailbox = sync_engine(upn)
    jobs.sync_mailbox(mailbox)  # the demo's mail: rows in every tab
    deliver(upn, UNBROKEN_ADDRESS, LONG_SUBJECT, name="Quentin Longname-Withoutbreaks")
    jobs.sync_mailbox(mailbox)
    return upn


def test_at_1280_px_every_column_and_an_unresolved_rows_actions_are_on_screen_and_clickable(
        signed_in_page, web, demo_users, sync_engine, deliver):
    upn = _prepare(demo_users, sync_engine, deliver)
    page = signed_in_page(upn, start="/history/unresolved")
    page.set_viewport_size({"width": 1280, "height": 800})

    for tab in TABS:
        page.goto(f"/history/{tab}")
        expect(page.get_by_test_id("history-row").first).to_be_visible()
        assert _overflow(page) == {"page": 0, "table": 0}, tab
        headers = page.locator('[data-testid="history-table"] thead th')
        assert headers.count() == len(TABS[tab].columns) + (tab != "excluded") + (tab in ("unresolved", "unmatched"))
        for n in range(headers.count()):
            box = headers.nth(n).bounding_box()
            assert 0 <= box["x"] and box["x"] + box["width"] <= 1280, (tab, headers.nth(n).inner_text(), box)

    page.goto("/history/unresolved")
    row = history_row(page, "Probe layout")
    expect(row).to_have_count(1)
    row.scroll_into_view_if_needed()
    for action in ACTIONS:
        control = row.get_by_test_id(action).first
        control.scroll_into_view_if_needed()
        assert _on_screen_and_on_top(page, control) is None, (action, _on_screen_and_on_top(page, control))
    assert page.evaluate("() => window.scrollX") == 0
    assert _overflow(page) == {"page": 0, "table": 0}
    assert_accessible(page)

    # Real clicks: the boxes tick, Create Contact opens Salesforce's prefilled page, Retry now queues.
    row.get_by_test_id("ignore-email").click()
    expect(row.get_by_test_id("ignore-email")).to_be_checked()
    row.get_by_test_id("ignore-domain").first.click()
    expect(row.get_by_test_id("ignore-domain").first).to_be_checked()
    with page.context.expect_page() as opened:
        row.get_by_test_id("create-contact").first.click()
    lightning = opened.value
    lightning.wait_for_load_state()
    assert lightning.url.startswith(f"{web.salesforce}/lightning/o/Contact/new")
    expect(lightning.get_by_test_id("field-Email")).to_have_value(UNBROKEN_ADDRESS)
    lightning.close()
    row.get_by_test_id("retry-now").click()
    expect(page.locator(".notice-success")).to_contain_text("Retrying 1 email now")


def test_at_800_px_the_table_scrolls_in_its_box_and_the_actions_stay_usable(
        signed_in_page, web, demo_users, sync_engine, deliver):
    upn = _prepare(demo_users, sync_engine, deliver)
    page = signed_in_page(upn, start="/history/unresolved")
    page.set_viewport_size({"width": 800, "height": 800})

    for tab in TABS:
        page.goto(f"/history/{tab}")
        expect(page.get_by_test_id("history-row").first).to_be_visible()
        assert _overflow(page)["page"] == 0, tab  # the page never scrolls sideways
        assert_accessible(page)

    page.goto("/history/unresolved")
    assert _overflow(page)["table"] > 0  # twelve columns do not fit: the table's own box scrolls
    row = history_row(page, "Probe layout")
    row.scroll_into_view_if_needed()
    for action in ("retry-now", "ignore-address", "create-contact"):
        control = row.get_by_test_id(action).first
        assert _on_screen_and_on_top(page, control) is None, (action, _on_screen_and_on_top(page, control))

    # The last data column is reached by scrolling the table (the arrow keys on its focused box).
    expires = page.get_by_test_id("sort-expires")
    page.get_by_test_id("table-scroll").focus()
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('[data-testid=\"table-scroll\"]').scrollLeft > 0")
    expires.scroll_into_view_if_needed()
    box = expires.bounding_box()
    assert 0 <= box["x"] and box["x"] + box["width"] <= 800, box
    assert page.evaluate("() => window.scrollX") == 0

    row.get_by_test_id("retry-now").click()
    expect(page.locator(".notice-success")).to_contain_text("Retrying 1 email now")
    expect(page).to_have_url(re.compile(r"/history/unresolved"))
