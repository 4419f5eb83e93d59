"""The Outlook add-in as a person uses it (issue 6), in Chromium against the sandbox's simulated
Outlook: it reads the app's manifest, draws the ribbon, loads the task pane and the function
file from the app in frames, with the Office.js stand-in and Nested App Authentication tokens
from the sandbox's Entra. The worker is not running here: each test runs the sync job
in-process (`worker.jobs.sync_mailbox`) where the worker would."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from mailferry.models import IgnoreEntry, Message, User, UserSetting
from tests.browser.axe import assert_accessible
from tests.browser.stack import TIMEOUT_MS
from tests.browser.hostile import PAYLOADS, plant
from worker import jobs
from worker.runtime import runtime


@pytest.fixture
def outlook(page, web):
    """`outlook(upn, **query)`: the simulated Outlook of `upn`, its ribbon drawn from the app's manifest.
    A Content-Security-Policy violation in the app's frames (pane, function file, dialog)
    fails the test: the `page` fixture checks only pages whose top document is the app's."""
    violations = []
    # Chromium reports a frame's violations without saying which frame; each document reports
    # its own, with its address, through the standard event (init scripts are not subject to CSP).
    page.context.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) => console.error("
        "'CSP violation in ' + location.href + ': ' + e.violatedDirective + ' ' + e.blockedURI));")

    def on_console(message):
        if message.text.startswith(f"CSP violation in {web.url}"):
            violations.append(message.text)

    page.on("console", on_console)

    def open_mailbox(upn: str, **query):
        params = {"user": upn, "manifest": f"{web.url}/addin/manifest.xml", "function_timeout": "20", **query}
        page.goto(f"{web.microsoft}/outlook?{urlencode(params)}")
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        expect(page.get_by_test_id("manifest-error")).to_be_hidden()
        expect(page.get_by_test_id("ribbon-button")).to_have_count(5)
        return page

    yield open_mailbox
    assert not violations, "Content-Security-Policy violations in the add-in's pages:\n" + "\n".join(violations)


def _open_email(page, internet_message_id: str, folder: str = "inbox"):
    page.locator(f'button[data-folder="{folder}"]').click()
    row = page.locator(f'[data-testid="message-row"][data-internet-message-id="{internet_message_id}"]')
    expect(row).to_have_count(1)
    row.click()


def _button(page, control_id: str):
    return page.locator(f'[data-testid="ribbon-button"][data-control-id="{control_id}"]')


def _pane(page):
    _button(page, "SyncStatusButton").click()
    expect(page.get_by_test_id("taskpane")).to_be_visible()
    return page.frame_locator('[data-testid="taskpane-frame"]')


def _pane_frame(page):
    return page.frame(name=page.get_by_test_id("taskpane-frame").get_attribute("name"))


def _rows(statuses: tuple[str, ...], upn: str):
    with runtime().sessions() as session:
        user = session.execute(select(User).where(User.upn == upn.lower())).scalar_one()
        return session.execute(select(Message).where(Message.user_id == user.id, Message.status.in_(statuses),
                                                     Message.direction == "incoming")
                               .order_by(Message.sent_at.desc())).scalars().all()


def _set(upn: str, key: str, value) -> None:
    """A setting of the user's own, as My Settings → Edit saves it."""
    with runtime().sessions() as session:
        user = session.execute(select(User).where(User.upn == upn.lower())).scalar_one()
        session.add(UserSetting(user_id=user.id, key=key, value=value))
        session.commit()


def _status(internet_message_id: str) -> str:
    with runtime().sessions() as session:
        return session.execute(select(Message.status).where(Message.internet_message_id == internet_message_id)
                               ).scalar_one()


def _newest_delivery(upn: str, subject: str) -> str:
    with runtime().sessions() as session:
        return session.execute(select(Message.internet_message_id).join(User, User.id == Message.user_id)
                               .where(User.upn == upn.lower(), Message.subject == subject)).scalar_one()


def test_a_synced_email_shows_synced_with_its_records(outlook, web, demo_users, sync_engine):
    upn = demo_users[0]["userPrincipalName"]
    jobs.sync_mailbox(sync_engine(upn))
    synced = _rows(("synced",), upn)[0]
    page = outlook(upn)
    _open_email(page, synced.internet_message_id)
    pane = _pane(page)
    status = pane.get_by_test_id("email-status")
    expect(status).to_have_attribute("data-status", "synced")
    expect(pane.get_by_test_id("status-title")).to_have_text("Synced to Salesforce")
    record = pane.get_by_test_id("status-record").first
    expect(record).to_have_attribute("data-recorded", "true")
    expect(record.get_by_test_id("record-link")).to_have_attribute(
        "href", re.compile("^" + re.escape(web.salesforce) + r"/lightning/r/(Contact|Lead)/\w{18}/view$"))
    expect(pane.get_by_test_id("task-link")).to_have_attribute(
        "href", re.compile("^" + re.escape(web.salesforce) + r"/lightning/r/Task/\w{18}/view$"))
    expect(pane.get_by_test_id("pane-history-tab")).to_have_count(4)
    assert_accessible(_pane_frame(page))


def test_an_unmatched_email_shows_unresolved_with_the_reason_and_fixes(outlook, web, demo_users, sync_engine, deliver):
    upn = demo_users[0]["userPrincipalName"]
    mailbox = sync_engine(upn)
    subject = "Probe: a buyer Salesforce does not know"
    deliver(upn, "nina.new@unknown-buyer.example", subject, name="Nina New")
    jobs.sync_mailbox(mailbox)
    page = outlook(upn)
    _open_email(page, _newest_delivery(upn, subject))
    pane = _pane(page)
    expect(pane.get_by_test_id("email-status")).to_have_attribute("data-status", "unresolved")
    expect(pane.get_by_test_id("status-reason")).to_have_text("Reason: No matching Contact or Lead in Salesforce")
    nina = pane.locator('[data-testid="participant"][data-address="nina.new@unknown-buyer.example"]')
    expect(nina).to_have_attribute("data-state", "unmatched")
    expect(nina.get_by_test_id("create-contact")).to_have_attribute(
        "href", re.compile("^" + re.escape(web.salesforce) + "/lightning/o/Contact/new[?]defaultFieldValues="))
    expect(nina.get_by_test_id("create-lead")).to_have_attribute("href", re.compile("FirstName=Nina"))
    expect(nina.get_by_test_id("ignore-address")).to_be_visible()
    expect(pane.get_by_test_id("retry-now")).to_be_visible()
    assert_accessible(_pane_frame(page))


def _notification(page):
    return page.get_by_test_id("notification").last


def test_ignore_sender_puts_the_address_on_the_ignore_list_and_the_email_leaves_unresolved(
        outlook, demo_users, sync_engine, deliver):
    upn = demo_users[0]["userPrincipalName"]
    mailbox = sync_engine(upn)
    subject, sender = "Probe: newsletter nobody wants", "news@spammy-list.example"
    deliver(upn, sender, subject, name="Spammy List")
    jobs.sync_mailbox(mailbox)
    message_id = _newest_delivery(upn, subject)
    assert _status(message_id) == "unresolved"
    page = outlook(upn)
    _open_email(page, message_id)
    _button(page, "IgnoreSenderButton").click()
    expect(_notification(page)).to_contain_text(f"{sender} is on your Ignore List")
    expect(_notification(page)).to_have_attribute("data-type", "informationalMessage")
    with runtime().sessions() as session:
        entry = session.execute(select(IgnoreEntry).where(IgnoreEntry.value == sender)).scalar_one()
        assert entry.source == "addin"
    assert _status(message_id) == "skipped"  # out of the Unresolved tab at once
    pane = _pane(page)
    expect(pane.get_by_test_id("email-status")).to_have_attribute("data-status", "skipped")
    expect(pane.locator(f'[data-testid="participant"][data-address="{sender}"]')).to_have_attribute(
        "data-state", "ignored")


def _graph_categories(web, client_session, upn: str, graph_id: str) -> list[str]:
    import msal

    from tests.config_fixtures import DEMO

    tenant = client_session.get(f"{web.microsoft}/_sandbox/users", timeout=30).json()["tenantId"]
    app = msal.ConfidentialClientApplication(DEMO.microsoft_client_id, client_credential=DEMO.microsoft_client_secret,
                                             authority=f"{web.microsoft}/{tenant}", instance_discovery=False,
                                             azure_region=False, http_client=client_session)
    token = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])["access_token"]
    answer = client_session.get(f"{web.microsoft}/v1.0/users/{upn}/messages/{graph_id}",
                                params={"$select": "categories"}, headers={"Authorization": f"Bearer {token}"},
                                timeout=30)
    answer.raise_for_status()
    return answer.json()["categories"]


def test_dont_sync_categorizes_the_message_excludes_it_and_removes_its_task(
        outlook, web, demo_users, sync_engine, client_session):
    upn = demo_users[0]["userPrincipalName"]
    mailbox = sync_engine(upn)
    jobs.sync_mailbox(mailbox)
    # Deletes are prevented by default (SPEC section 6); this rep allows them.
    _set(upn, "prevent_delete", False)
    synced = next(row for row in _rows(("synced",), upn) if row.salesforce_task_id and "DoNotSync" not in row.categories)
    task_url = f"{web.salesforce}/_sandbox/records/Task"
    assert client_session.get(task_url, params={"Id": synced.salesforce_task_id}, timeout=30).json()["totalSize"] == 1
    page = outlook(upn)
    _open_email(page, synced.internet_message_id)
    _button(page, "DontSyncButton").click()
    expect(_notification(page)).to_contain_text("Marked “DoNotSync”")
    assert "DoNotSync" in _graph_categories(web, client_session, upn, synced.graph_id)
    jobs.sync_mailbox(mailbox)  # what the queued sync does in the worker
    assert _status(synced.internet_message_id) == "excluded"
    assert client_session.get(task_url, params={"Id": synced.salesforce_task_id}, timeout=30).json()["totalSize"] == 0
    pane = _pane(page)
    expect(pane.get_by_test_id("email-status")).to_have_attribute("data-status", "excluded")
    expect(pane.get_by_test_id("status-reason")).to_have_text("Rule: DoNotSync category")


def test_sync_to_salesforce_designates_an_email_in_a_designated_mode(outlook, demo_users, sync_engine, deliver):
    upn = demo_users[0]["userPrincipalName"]
    mailbox = sync_engine(upn)
    jobs.sync_mailbox(mailbox)
    known = _rows(("synced",), upn)[0].from_address  # a sender Salesforce has a record for
    _set(upn, "sync_mode", "sync_designated")
    subject = "Probe: only if designated"
    deliver(upn, known, subject)
    jobs.sync_mailbox(mailbox)
    page = outlook(upn)
    _open_email(page, _newest_delivery_in_mailbox(page, subject))
    pane = _pane(page)
    expect(pane.get_by_test_id("email-status")).to_have_attribute("data-status", "not_designated")
    _button(page, "SyncToSalesforceButton").click()
    expect(_notification(page)).to_contain_text("Marked “CRM”")
    jobs.sync_mailbox(mailbox)
    internet_message_id = page.locator('[data-testid="message-row"][aria-selected="true"]').get_attribute(
        "data-internet-message-id")
    assert _status(internet_message_id) == "synced"
    # The open pane heard the command and follows the email to its new status.
    expect(pane.get_by_test_id("email-status")).to_have_attribute("data-status", "synced")
    expect(pane.get_by_test_id("status-record").first).to_have_attribute("data-recorded", "true")


def _newest_delivery_in_mailbox(page, subject: str) -> str:
    """The Internet Message-ID of a message the worker did not store (the host lists it)."""
    row = page.get_by_test_id("message-row").filter(has_text=subject)
    expect(row).to_have_count(1)
    return row.get_attribute("data-internet-message-id")


def test_a_pinned_pane_follows_the_selected_email(outlook, demo_users, sync_engine, deliver):
    upn = demo_users[0]["userPrincipalName"]
    mailbox = sync_engine(upn)
    jobs.sync_mailbox(mailbox)
    synced = _rows(("synced",), upn)[0]
    subject = "Probe: the second email"
    deliver(upn, "someone@unknown-pin.example", subject)
    jobs.sync_mailbox(mailbox)
    page = outlook(upn)
    _open_email(page, synced.internet_message_id)
    pane = _pane(page)
    expect(pane.get_by_test_id("email-status")).to_have_attribute("data-status", "synced")
    page.get_by_test_id("pin-taskpane").click()
    expect(page.get_by_test_id("pin-taskpane")).to_have_attribute("aria-pressed", "true")
    _open_email(page, _newest_delivery(upn, subject))
    expect(pane.get_by_test_id("email-status")).to_have_attribute("data-status", "unresolved")
    expect(pane.locator('[data-testid="participant"][data-address="someone@unknown-pin.example"]')).to_have_count(1)
    page.get_by_test_id("pin-taskpane").click()  # unpinned: another email closes the pane, as in Outlook
    _open_email(page, synced.internet_message_id)
    expect(page.get_by_test_id("taskpane")).to_be_hidden()


@pytest.mark.parametrize("bad_token", ["expired", "forged"])
def test_an_expired_or_forged_token_gets_a_sign_in_prompt_never_data(outlook, demo_users, sync_engine, bad_token):
    upn = demo_users[0]["userPrincipalName"]
    mailbox = sync_engine(upn)
    jobs.sync_mailbox(mailbox)
    synced = _rows(("synced",), upn)[0]
    page = outlook(upn, token=bad_token)
    _open_email(page, synced.internet_message_id)
    pane = _pane(page)
    expect(pane.get_by_test_id("sign-in-prompt")).to_be_visible()
    expect(pane.get_by_test_id("sign-in-prompt")).to_contain_text("Sign in to Mailferry")
    pane.get_by_test_id("sign-in").click()  # the broker answers the same bad token: still no data
    expect(pane.get_by_test_id("sign-in-prompt")).to_be_visible()
    expect(pane.get_by_test_id("email-status")).to_have_count(0)
    expect(pane.get_by_test_id("pane-history")).to_be_hidden()
    _button(page, "IgnoreSenderButton").click()
    expect(_notification(page)).to_contain_text("Sign in to Mailferry")
    expect(_notification(page)).to_have_attribute("data-type", "errorMessage")
    with runtime().sessions() as session:
        assert session.execute(select(IgnoreEntry).where(IgnoreEntry.source == "addin")).first() is None


def _sign_in_in_dialog(page, click, upn: str) -> None:
    """Click something that opens the sign-in dialog, pick `upn` there, and see the dialog close."""
    with page.context.expect_page() as opened:
        click()
    dialog = opened.value
    dialog.locator(f'[data-testid="sign-in-user"][data-upn="{upn}"]').click()
    dialog.wait_for_event("close", timeout=TIMEOUT_MS)  # closed once the token reached the add-in


def test_without_nested_app_auth_the_sign_in_dialog_hands_the_pane_a_token(outlook, demo_users, sync_engine, deliver):
    upn = demo_users[0]["userPrincipalName"]
    mailbox = sync_engine(upn)
    jobs.sync_mailbox(mailbox)
    synced = _rows(("synced",), upn)[0]
    page = outlook(upn, naa="off")
    _open_email(page, synced.internet_message_id)
    pane = _pane(page)
    expect(pane.get_by_test_id("sign-in-prompt")).to_be_visible()
    _sign_in_in_dialog(page, pane.get_by_test_id("sign-in").click, upn)
    expect(pane.get_by_test_id("email-status")).to_have_attribute("data-status", "synced")
    # The commands share the pane's sign-in: no second dialog.
    pages_before = len(page.context.pages)
    _button(page, "IgnoreDomainButton").click()
    expect(_notification(page)).to_contain_text("is on your Ignore List")
    assert len(page.context.pages) == pages_before


def test_without_nested_app_auth_a_command_opens_the_sign_in_dialog_itself(outlook, demo_users, sync_engine, deliver):
    upn = demo_users[0]["userPrincipalName"]
    mailbox = sync_engine(upn)
    subject, sender = "Probe: ignore me before signing in", "someone@ignore-first.example"
    deliver(upn, sender, subject)
    jobs.sync_mailbox(mailbox)
    page = outlook(upn, naa="off")
    _open_email(page, _newest_delivery(upn, subject))
    _sign_in_in_dialog(page, _button(page, "IgnoreSenderButton").click, upn)
    expect(_notification(page)).to_contain_text(f"{sender} is on your Ignore List")


def test_hostile_strings_stay_text_in_the_pane(signed_in_page, outlook, web, demo_users, client_session):
    upn = demo_users[0]["userPrincipalName"]
    signed_in_page(upn, start="/connections")  # a Mailferry user, without Salesforce yet
    plant(web.config.database_url, upn)  # hostile subjects, names, records, an unsafe org URL
    answer = client_session.post(f"{web.microsoft}/_sandbox/users/{upn}/messages", timeout=30, json={
        "from": {"address": "h0@hostile.example", "name": PAYLOADS[0]}, "to": [{"address": upn}],
        "subject": PAYLOADS[0], "body": "x", "internetMessageId": "<hostile-synced-0@x.example>"})
    assert answer.status_code == 201, answer.text
    page = outlook(upn)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _open_email(page, "<hostile-synced-0@x.example>")
    pane = _pane(page)
    expect(pane.get_by_test_id("email-status")).to_have_attribute("data-status", "synced")
    expect(pane.get_by_test_id("status-record")).to_contain_text(PAYLOADS[0][:40])
    frame = _pane_frame(page)
    for tab in ("unresolved", "synced", "excluded", "unmatched"):
        pane.locator(f'[data-testid="pane-history-tab"][data-tab="{tab}"]').click()
        expect(pane.locator(f'[data-testid="pane-history-tab"][data-tab="{tab}"]')).to_have_attribute(
            "aria-selected", "true")
        expect(pane.get_by_test_id("pane-history-row").first).to_be_visible()
        assert frame.evaluate("() => window.__mf_pwned === undefined")
        assert frame.locator('a[href^="javascript:" i]').count() == 0
        assert frame.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 1
    assert not dialogs


def test_sync_now_records_an_email_the_worker_has_not_read_yet(outlook, demo_users, sync_engine, deliver):
    upn = demo_users[0]["userPrincipalName"]
    mailbox = sync_engine(upn)
    jobs.sync_mailbox(mailbox)
    known = _rows(("synced",), upn)[0].from_address
    subject = "Probe: just arrived"
    deliver(upn, known, subject)  # the worker has not run since
    page = outlook(upn)
    _open_email(page, _newest_delivery_in_mailbox(page, subject))
    pane = _pane(page)
    expect(pane.get_by_test_id("email-status")).to_have_attribute("data-status", "not_synced_yet")
    pane.get_by_test_id("sync-now").click()  # queues the sync and watches the email
    jobs.sync_mailbox(mailbox)  # the worker's part, run here
    expect(pane.get_by_test_id("email-status")).to_have_attribute("data-status", "synced")
    expect(pane.get_by_test_id("status-record").first).to_have_attribute("data-recorded", "true")


def test_the_pane_opened_outside_outlook_says_where_it_belongs(page, web):
    page.goto("/addin/taskpane?office_js=stand-in")  # Office.js outside a host: onReady says host null
    expect(page.get_by_test_id("outside-outlook")).to_contain_text("open an email in Outlook")
    assert_accessible(page)
