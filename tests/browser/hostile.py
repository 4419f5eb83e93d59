"""Hostile strings, planted in every text a page may show: markup that would run script if
it were not escaped (each payload sets `window.__mf_pwned` or opens a dialog), attribute
breakers, `javascript:` URLs, right-to-left and zero-width characters, and a subject of
10,000 characters."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailferry.db import make_engine, utcnow
from mailferry.models import (Connection, IgnoreEntry, Mailbox, Message, MessageRecord, Tenant,
                              UnmatchedAddress, User)

PAYLOADS = (
    '<script>window.__mf_pwned=1</script>',
    '"><img src=x onerror="window.__mf_pwned=2">',
    "'><svg onload=alert(3)>",
    '</textarea></title><script>window.__mf_pwned=4</script>',
    'javascript:window.__mf_pwned=5',
    '{{7*7}} ${7*7} <b>bold</b> &amp; &lt;',
    '\u202egnp.exe\u202c \u200b\u200c\u200d\ufeff zero\u200bwidth',
    'x' * 10_000,
)


def plant(database_url: str, upn: str) -> None:
    """Fill the signed-in user's history, Ignore List, connection and tenant with PAYLOADS."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            user = session.execute(select(User).where(User.upn == upn.lower())).scalar_one()
            mailbox = session.execute(select(Mailbox).where(Mailbox.user_id == user.id)).scalar_one()
            for n, payload in enumerate(PAYLOADS):
                for status in ("unresolved", "synced", "excluded"):
                    message = Message(
                        tenant_id=user.tenant_id, user_id=user.id, mailbox_id=mailbox.id,
                        graph_id=f"hostile-{status}-{n}", internet_message_id=f"<hostile-{status}-{n}@x.example>",
                        direction="incoming", subject=payload, from_address=f"h{n}@hostile.example",
                        from_name=payload, to_cc=payload, status=status,
                        reason="no_match" if status == "unresolved" else ("global_exclusion" if status == "excluded" else None),
                        error_message=payload, sent_at=utcnow() - timedelta(minutes=n), search_text=payload[:200])
                    session.add(message)
                    session.flush()
                    if status == "synced":
                        session.add(MessageRecord(message_id=message.id, sobject_type="Contact",
                                                  record_id="003000000000001AAA", name=payload[:200],
                                                  address=f"h{n}@hostile.example", recorded=True))
                session.add(UnmatchedAddress(tenant_id=user.tenant_id, user_id=user.id,
                                             address=f"u{n}@hostile{n}.example", display_name=payload,
                                             domain=f"hostile{n}.example", emails_count=1, last_subject=payload))
                session.add(IgnoreEntry(tenant_id=user.tenant_id, user_id=user.id, kind="address",
                                        value=f"i{n}@hostile.example", source="manual"))
            session.add(Connection(tenant_id=user.tenant_id, user_id=user.id, provider="salesforce",
                                   status="needs_reconnect", status_detail=PAYLOADS[1], account_label=PAYLOADS[0],
                                   instance_url="javascript:window.__mf_pwned=6//", login_host=PAYLOADS[4]))
            session.execute(update(Tenant).where(Tenant.id == user.tenant_id).values(name=PAYLOADS[2]))
            session.execute(update(Mailbox).where(Mailbox.id == mailbox.id).values(
                status="needs_reconnect", status_detail=PAYLOADS[3]))
            session.commit()
    finally:
        engine.dispose()
