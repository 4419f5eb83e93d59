"""The add-in API's answers as JSON: an email's status in words, and a compact history page.

Words live here, not in the scripts, so the pane and the Sync History say the same things
(reasons come from `mailferry.history.reason_text`). The scripts insert every value as
text, never as HTML.
"""

from __future__ import annotations

from mailferry import history
from mailferry.addresses import domain_of
from mailferry.email_status import EmailStatus
from server.history.presenting import Links
from server.time_display import local_time

#: (title, what it means / what to do) per status.
STATUS_TEXT = {
    "synced": ("Synced to Salesforce", "Recorded as an activity on the records below."),
    "unresolved": ("Unresolved", "Salesforce has not taken it yet; Mailferry keeps retrying. Retry now tries at once."),
    "expired": ("Unresolved, no longer retried", "Mailferry stopped retrying it when its retry window ended; "
                                                 "it stays out of Salesforce."),
    "excluded": ("Excluded", "A rule keeps this email out of Salesforce."),
    "pending": ("Syncing", "Mailferry has this email and is recording it."),
    "not_synced_yet": ("Not synced yet", "Mailferry has not read this email yet. Sync now to record it at once."),
    "not_designated": ("Not designated", "Your sync mode records only emails with the CRM category. "
                                         "Use Sync to Salesforce to record this one."),
    "ignored": ("Ignored", "You chose not to sync this email."),
    "omitted": ("Omitted by policy", "Your organization's Global Exclusion List keeps this email out of "
                                     "Mailferry; nothing about it is stored."),
    "skipped": ("Nothing to sync", "Everyone on this email is you, on your Ignore List (your own domain is on "
                                   "it) or not a valid address."),
    "off": ("Sync is off", "Email sync is turned off in My Settings, or your administrator disabled it."),
}
#: Texts that depend on the reason as well.
STATUS_TEXT_BY_REASON = {
    ("unresolved", "no_match"): ("Unresolved", "Nobody on it is a Contact or Lead in Salesforce yet. Create one, "
                                               "or ignore the address, then Retry now."),
}
#: Longest subject or name the compact history sends (the pane is narrow; the full text is in
#: the Sync History).
TITLE_LENGTH = 300
#: What a participant's state means, in words.
PARTICIPANT_TEXT = {
    "recorded": "Recorded on",
    "not_recorded": "Matched, not recorded",
    "unmatched": "No Contact or Lead",
    "ignored": "On your Ignore List or excluded by your admin",
    "invalid": "Not a valid address",
    "not_looked_up": "Not looked up yet",
}


def status_json(found: EmailStatus, links: Links) -> dict:
    title, detail = STATUS_TEXT_BY_REASON.get((found.status, found.reason)) or STATUS_TEXT.get(
        found.status, (found.status.replace("_", " ").capitalize(), ""))
    row = found.message
    records = []
    for record in (row.records if row is not None else []):
        records.append({
            "type": record.sobject_type, "name": record.name or record.record_id, "recorded": record.recorded,
            "reason": history.reason_text(record.reason), "url": links.record(record.sobject_type, record.record_id),
        })
    participants = []
    for person in found.participants:
        entry = {
            "address": person.address, "name": person.name, "role": person.role, "state": person.state,
            "state_text": PARTICIPANT_TEXT[person.state], "domain": domain_of(person.address) or "",
            "record": None, "create_contact_url": None, "create_lead_url": None,
        }
        if person.record_type:
            entry["record"] = {"type": person.record_type, "name": person.record_name or person.record_id,
                               "url": links.record(person.record_type, person.record_id),
                               "reason": history.reason_text(person.reason)}
        if person.state == "unmatched":
            entry["create_contact_url"] = links.new("Contact", person.address, person.name)
            entry["create_lead_url"] = links.new("Lead", person.address, person.name)
        participants.append(entry)
    return {
        "status": found.status, "title": title, "detail": detail,
        "reason": found.reason, "reason_text": history.reason_text(found.reason),
        "rule": found.rule, "message_id": row.id if row is not None else None,
        "task_url": links.record("Task", row.salesforce_task_id) if row is not None else None,
        "records": records, "participants": participants,
        "can_sync_now": found.can_sync_now,
        "can_retry": found.can_retry,
        "can_ignore_email": row is not None and found.status not in ("ignored",),
    }


def history_json(page: history.Page, counts: dict[str, int], links: Links, zone: str) -> dict:
    view = page.view
    rows = []
    for row in page.rows:
        if view.tab.status is None:  # Unmatched Contacts/Leads
            rows.append({"id": row.id, "title": row.address, "subtitle": (row.display_name or "")[:TITLE_LENGTH],
                         "when": local_time(row.last_seen_at, zone, never=""), "detail": f"{row.emails_count} emails",
                         "create_contact_url": links.new("Contact", row.address, row.display_name),
                         "create_lead_url": links.new("Lead", row.address, row.display_name)})
            continue
        detail = ""
        if view.tab.key in ("unresolved", "excluded"):
            detail = history.reason_text(row.reason or row.error_code)
        elif view.tab.key == "synced":
            detail = ", ".join(r.name or r.record_id for r in row.records if r.recorded)
        rows.append({"id": row.id, "title": (row.subject or "(no subject)")[:TITLE_LENGTH],
                     "subtitle": (row.from_name or row.from_address or "")[:TITLE_LENGTH],
                     "when": local_time(row.sent_at, zone, never=""), "detail": detail[:TITLE_LENGTH]})
    return {
        "tab": view.tab.key, "query": view.query, "page": view.page, "has_next": page.has_next,
        "tabs": [{"key": tab.key, "label": tab.label, "count": counts.get(tab.key, 0)} for tab in history.TABS.values()],
        "rows": rows, "empty_text": view.tab.empty_text,
    }
