"""Mail store objects in the shapes Office.js gives an add-in (reference §3.6, outlook.d.ts):
`EmailAddressDetails`, the read-mode item, category details. Graph spells colours `preset0`,
Office.js `Preset0` (reference §4 item 10)."""

from __future__ import annotations

from ..microsoft.mailstore import FOLDERS, Mailbox, Message
from ..microsoft.render import stamp
from ..world import Address

LIST_FOLDERS = ("inbox", "sentitems")


def office_color(graph_color: str) -> str:
    return "None" if graph_color == "none" else graph_color.capitalize()


def graph_color(office: str) -> str | None:
    """Graph's spelling of an Office.js colour, or None when it is not one."""
    lowered = office.lower() if isinstance(office, str) else ""
    if lowered == "none" or (lowered.startswith("preset") and lowered[6:].isdigit() and int(lowered[6:]) <= 24):
        return lowered
    return None


def email_details(address: Address | None, tenant_domain: str) -> dict | None:
    if address is None:
        return None
    # Outlook calls people of the mailbox's own organisation "user", everyone else "externalUser".
    internal = address.address.lower().endswith("@" + tenant_domain.lower())
    return {"displayName": address.name or address.address, "emailAddress": address.address,
            "recipientType": "user" if internal else "externalUser"}


def categories(mailbox: Mailbox, message: Message) -> list[dict]:
    colors = {c.display_name.casefold(): c.color for c in mailbox.categories}
    return [{"displayName": name, "color": office_color(colors.get(name.casefold(), "none"))}
            for name in message.categories]


def master_categories(mailbox: Mailbox) -> list[dict]:
    return [{"displayName": c.display_name, "color": office_color(c.color)} for c in mailbox.categories]


def item(mailbox: Mailbox, message: Message, tenant_domain: str) -> dict:
    """What `Office.context.mailbox.item` holds in read mode; itemId is the Graph (REST) id."""
    sender = email_details(message.sender, tenant_domain)
    return {
        "itemId": message.id, "itemType": "message", "itemClass": "IPM.Note",
        "internetMessageId": message.internet_message_id, "conversationId": message.conversation_id,
        "subject": message.subject, "normalizedSubject": message.subject,
        "from": sender, "sender": sender,
        "to": [email_details(a, tenant_domain) for a in message.to],
        "cc": [email_details(a, tenant_domain) for a in message.cc],
        "dateTimeCreated": stamp(message.created), "dateTimeModified": stamp(message.modified),
    }


def row(mailbox: Mailbox, message: Message) -> dict:
    """One line of the host's message list (and its reading pane)."""
    return {
        "id": message.id, "internetMessageId": message.internet_message_id,
        "folder": mailbox.folders[message.folder_id].name,
        "from": (message.sender.name or message.sender.address) if message.sender else "",
        "to": ", ".join(a.name or a.address for a in message.to),
        "subject": message.subject, "received": stamp(message.received), "body": message.body_text,
        "categories": categories(mailbox, message),
    }


def folder_rows(mailbox: Mailbox) -> dict[str, dict]:
    """Inbox and Sent Items, newest first, as the host lists them."""
    result = {}
    for name in LIST_FOLDERS:
        folder_id = mailbox.by_name[name]
        messages = sorted((m for m in mailbox.messages.values() if m.folder_id == folder_id),
                          key=lambda m: m.received, reverse=True)
        result[name] = {"displayName": FOLDERS[name], "messages": [row(mailbox, m) for m in messages]}
    return result
