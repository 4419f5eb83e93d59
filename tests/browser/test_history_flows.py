"""Sync History as a person uses it, in Chromium against the real stack: sort, search, tick
rows and Save an ignore; create the missing Contact from an Unresolved email through the
sandbox's Lightning page and Retry now; an admin's Global Exclusion List keeps new mail out of
every tab. The worker is not running here: each test runs the sync job in-process
(`worker.jobs.sync_mailbox`) on the web app's own database and Redis, the way the worker would.
Every page visited is checked with axe-core."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from rq import Queue

from mailferry.job_queue import SYNC_QUEUE, sync_job_id
from tests.browser.axe import assert_accessible
from tests.browser.stack import history_row
from worker import jobs
from worker.runtime import runtime


@pytest.fixture
def sync_queue():
    """The mailbox syncs the pages queue for the worker (which is not running here)."""
    return Queue(SYNC_QUEUE, connection=runtime().redis)


def _count(page, tab: str) -> int:
    return int(page.get_by_test_id(f"count-{tab}").inner_text().replace(",", "").strip())


def test_sort_search_and_ignore_two_unresolved_emails(signed_in_page, web, demo_users, sync_engine, deliver):
    upn = demo_users[0]["userPrincipalName"]
    mailbox = sync_engine(upn)
    jobs.sync_mailbox(mailbox)  # the demo backfill, so the history already has rows
    subjects = ["Probe Bravo kumquat", "Probe Alpha kumquat", "Probe Charlie kumquat"]
    for n, subject in enumerate(subjects):
        deliver(upn, f"buyer{n}@unknown-{n}.example", subject)
    jobs.sync_mailbox(mailbox)

    page = signed_in_page(upn, start="/history/unresolved")
    table = page.get_by_test_id("history-table")
    expect(table).to_have_attribute("data-tab", "unresolved")
    for subject in subjects:
        expect(history_row(page, subject)).to_have_count(1)
    assert_accessible(page)

    probes = page.locator('[data-testid="history-row"] td.subject').filter(has_text="kumquat")

    page.get_by_test_id("sort-subject").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=subject&dir=asc"))
    expect(probes).to_have_text(sorted(subjects))
    page.get_by_test_id("sort-subject").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=subject&dir=desc"))
    expect(probes).to_have_text(sorted(subjects, reverse=True))
    assert_accessible(page)

    expect(page.get_by_test_id("history-row")).not_to_have_count(3)  # the backfill's unresolved mail too
    page.get_by_test_id("search-input").fill("kumquat")
    page.get_by_test_id("search-submit").click()
    expect(page).to_have_url(re.compile(r"[?&]q=kumquat"))
    expect(page).to_have_url(re.compile(r"[?&]sort=subject"))  # the sort survives the search
    expect(page.get_by_test_id("history-row")).to_have_count(3)
    expect(probes).to_have_text(sorted(subjects, reverse=True))
    assert_accessible(page)

    unresolved_before = _count(page, "unresolved")
    for subject in ("Probe Alpha kumquat", "Probe Charlie kumquat"):
        history_row(page, subject).get_by_test_id("ignore-email").check()
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("history-row")).to_have_count(1)
    expect(history_row(page, "Probe Bravo kumquat")).to_have_count(1)
    expect(page.get_by_test_id("count-unresolved")).to_have_text(str(unresolved_before - 2))
    assert_accessible(page)
    page.get_by_test_id("search-clear").click()  # gone from the whole tab, not only the search
    expect(page).not_to_have_url(re.compile(r"[?&]q="))
    expect(page.get_by_test_id("count-unresolved")).to_have_text(str(unresolved_before - 2))
    expect(page.get_by_test_id("history-row").first).to_be_visible()
    expect(history_row(page, "Probe Alpha kumquat")).to_have_count(0)
    expect(history_row(page, "Probe Charlie kumquat")).to_have_count(0)


def test_create_the_contact_from_an_unresolved_email_then_retry_now(signed_in_page, web, demo_users,
                                                                      sync_engine, deliver, sync_queue):
    upn = demo_users[0]["userPrincipalName"]
    mailbox = sync_engine(upn)
    jobs.sync_mailbox(mailbox)
    address, subject = "nora.buyer@fabrikam-new.example", "Probe: Interested in a demo"
    deliver(upn, address, subject, name="Nora Buyer")
    jobs.sync_mailbox(mailbox)

    page = signed_in_page(upn, start="/history/unresolved")
    row = history_row(page, subject)
    expect(row).to_have_count(1)
    participant = row.locator(f'[data-testid="participant"][data-address="{address}"]')
    expect(participant).to_have_count(1)
    unresolved_before = _count(page, "unresolved")
    assert_accessible(page)

    with page.context.expect_page() as opened:
        participant.get_by_test_id("create-contact").click()
    lightning = opened.value
    lightning.wait_for_load_state()
    assert lightning.url.startswith(f"{web.salesforce}/lightning/o/Contact/new")
    form = lightning.get_by_test_id("record-form")
    expect(form).to_have_attribute("data-sobject", "Contact")
    expect(lightning.get_by_test_id("field-FirstName")).to_have_value("Nora")
    expect(lightning.get_by_test_id("field-LastName")).to_have_value("Buyer")
    expect(lightning.get_by_test_id("field-Email")).to_have_value(address)
    assert_accessible(lightning)
    lightning.get_by_test_id("save").click()
    lightning.wait_for_url(re.compile("^" + re.escape(web.salesforce) + r"/lightning/r/Contact/\w+/view"))
    expect(lightning.get_by_test_id("record-title")).to_have_text("Nora Buyer")
    lightning.close()

    page.bring_to_front()
    sync_queue.remove(sync_job_id(mailbox))  # whatever an earlier step queued
    row.get_by_test_id("retry-now").click()
    expect(page.locator(".notice-success")).to_contain_text("Retrying 1 email now")
    assert sync_job_id(mailbox) in sync_queue.get_job_ids()  # Retry now queued the mailbox's sync...
    sync_queue.remove(sync_job_id(mailbox))
    jobs.sync_mailbox(mailbox)  # ...which the worker runs: here, in-process
    page.reload()
    expect(history_row(page, subject)).to_have_count(0)
    expect(page.get_by_test_id("count-unresolved")).to_have_text(str(unresolved_before - 1))

    page.get_by_test_id("tab-synced").click()
    expect(page).to_have_url(re.compile(r"/history/synced"))
    synced = history_row(page, subject)
    expect(synced).to_have_count(1)
    recorded = synced.get_by_test_id("record-recorded")
    expect(recorded).to_have_count(1)
    expect(recorded).to_contain_text("Nora Buyer")
    expect(recorded).to_contain_text("(Contact)")
    expect(recorded.locator(".check")).to_have_text("✓")
    assert_accessible(page)


def test_a_global_exclusion_keeps_new_mail_out_of_every_tab(signed_in_page, web, demo_users, sync_engine, deliver):
    admin = demo_users[0]["userPrincipalName"]  # the tenant's first user: its admin
    mailbox = sync_engine(admin)
    jobs.sync_mailbox(mailbox)

    page = signed_in_page(admin, start="/admin/exclusions")
    assert_accessible(page)
    page.get_by_test_id("exclusions-text").fill("blocked-partner.example")
    page.get_by_test_id("save").click()
    expect(page.locator(".notice-success")).to_contain_text("1 added")
    expect(page.get_by_test_id("exclusions-text")).to_have_value(re.compile(r"^\s*blocked-partner\.example\s*$"))
    assert_accessible(page)

    hidden, shown = "Probe: from the excluded partner", "Probe: from an ordinary stranger"
    deliver(admin, "sales@eu.blocked-partner.example", hidden, name="Blocked Partner")
    deliver(admin, "someone@open-partner.example", shown, name="Open Partner")
    jobs.sync_mailbox(mailbox)

    page.goto("/history/unresolved")
    expect(history_row(page, shown)).to_have_count(1)  # the sync did run: this one arrived
    for tab in ("unresolved", "synced", "excluded", "unmatched"):
        page.get_by_test_id(f"tab-{tab}").click()
        expect(page).to_have_url(re.compile(rf"/history/{tab}"))
        expect(page.get_by_test_id("history-tabs")).to_be_visible()
        expect(page.get_by_text("blocked-partner.example")).to_have_count(0)
        expect(page.get_by_text(hidden)).to_have_count(0)
        assert_accessible(page)
        page.get_by_test_id("search-input").fill("blocked-partner")
        page.get_by_test_id("search-submit").click()
        expect(page).to_have_url(re.compile(r"[?&]q=blocked-partner"))
        expect(page.get_by_test_id("history-row")).to_have_count(0)
        expect(page.get_by_test_id("empty-state")).to_be_visible()
    page.goto("/history/unmatched")
    expect(page.locator('[data-testid="history-row"]', has_text="open-partner.example")).to_have_count(1)
