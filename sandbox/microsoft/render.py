"""Graph JSON for the sandbox's objects (reference §1.2, §1.3, §1.6): property names and types
as in `schemas/graph/mail-types.json`."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

from ..world import Address
from .mailstore import Folder, Mailbox, Message

PREVIEW_LENGTH = 255
# Properties a message has in Graph (besides `id`): what `$select` may name.
MESSAGE_PROPERTIES = frozenset({
    "createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "receivedDateTime",
    "sentDateTime", "hasAttachments", "internetMessageId", "subject", "bodyPreview",
    "importance", "parentFolderId", "conversationId", "conversationIndex",
    "isDeliveryReceiptRequested", "isReadReceiptRequested", "isRead", "isDraft", "webLink",
    "inferenceClassification", "body", "sender", "from", "toRecipients", "ccRecipients",
    "bccRecipients", "replyTo", "flag", "uniqueBody", "internetMessageHeaders",
})
# Only returned when asked for by $select (Graph leaves them out of the default projection).
SELECT_ONLY = frozenset({"uniqueBody", "internetMessageHeaders"})


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def recipient(address: Address | None) -> dict | None:
    if address is None:
        return None
    return {"emailAddress": {"name": address.name or address.address, "address": address.address}}


def html_body(text: str) -> str:
    escaped = html.escape(text).replace("\r\n", "\n").replace("\n", "<br>\r\n")
    return ('<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
            f'</head><body><div>{escaped}</div></body></html>')


def preview(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:PREVIEW_LENGTH]


def message_json(message: Message, body_type: str = "html") -> dict:
    """The full representation, built once per message version and body type."""
    cached = message.cache.get(body_type)
    if cached is not None:
        return cached
    body = message.body_text if body_type == "text" else html_body(message.body_text)
    received = stamp(message.received)
    data = {
        "@odata.etag": f'W/"{message.change_key}"',
        "id": message.id,
        "createdDateTime": stamp(message.created),
        "lastModifiedDateTime": stamp(message.modified),
        "changeKey": message.change_key,
        "categories": list(message.categories),
        "receivedDateTime": received,
        "sentDateTime": received,
        "hasAttachments": message.has_attachments,
        "internetMessageId": message.internet_message_id,
        "subject": message.subject,
        "bodyPreview": preview(message.body_text),
        "importance": message.importance,
        "parentFolderId": message.folder_id,
        "conversationId": message.conversation_id,
        "conversationIndex": message.conversation_index,
        "isDeliveryReceiptRequested": False,
        "isReadReceiptRequested": False,
        "isRead": message.is_read,
        "isDraft": message.is_draft,
        "webLink": "https://outlook.office365.com/owa/?ItemID=" + message.id.replace("=", "%3D")
                   + "&exvsurl=1&viewmodel=ReadMessageItem",
        "inferenceClassification": "focused",
        "body": {"contentType": body_type, "content": body},
        "sender": recipient(message.sender),
        "from": recipient(message.sender),
        "toRecipients": [recipient(a) for a in message.to],
        "ccRecipients": [recipient(a) for a in message.cc],
        "bccRecipients": [recipient(a) for a in message.bcc],
        "replyTo": [],
        "flag": {"flagStatus": message.flag_status},
    }
    message.cache[body_type] = data
    return data


def message_text(message: Message, body_type: str = "html", delta: bool = False) -> str:
    """The full representation serialized once per version: pages are assembled from these
    strings, so a delta page costs string joins rather than JSON encoding."""
    key = ("text", body_type, delta)
    text = message.cache.get(key)
    if text is None:
        data = message_json(message, body_type)
        if delta:
            data = {"@odata.type": "#microsoft.graph.message", **data}
        text = message.cache[key] = json.dumps(data)
    return text


def collection_text(context: str, items: list[str], links: dict[str, str]) -> str:
    """A Graph collection body from already-serialized items."""
    tail = "".join(f",{json.dumps(name)}:{json.dumps(url)}" for name, url in links.items())
    return f'{{"@odata.context":{json.dumps(context)},"value":[{",".join(items)}]{tail}}}'


def extra_json(message: Message, name: str, body_type: str):
    """Properties only $select brings back."""
    if name == "uniqueBody":
        text = message.body_text
        return {"contentType": body_type, "content": text if body_type == "text" else html_body(text)}
    headers = [{"name": "Message-ID", "value": message.internet_message_id},
               {"name": "Subject", "value": message.subject}]
    if message.sender:
        headers.append({"name": "From", "value": f"{message.sender.name} <{message.sender.address}>"})
    return headers


def project(message: Message, select: list[str] | None, body_type: str = "html") -> dict:
    full = message_json(message, body_type)
    if not select:
        return full
    data = {"@odata.etag": full["@odata.etag"], "id": message.id}
    for name in select:
        data[name] = extra_json(message, name, body_type) if name in SELECT_ONLY else full[name]
    return data


def folder_json(mailbox: Mailbox, folder: Folder) -> dict:
    messages = [m for m in mailbox.messages.values() if m.folder_id == folder.id]
    return {
        "id": folder.id,
        "displayName": folder.display_name,
        "parentFolderId": "AQMkAG" + folder.id[6:20] + "msgfolderroot",
        "childFolderCount": 0,
        "unreadItemCount": sum(1 for m in messages if not m.is_read),
        "totalItemCount": len(messages),
        "isHidden": False,
    }


def user_json(user) -> dict:
    return {
        "id": user.oid, "displayName": user.display_name, "givenName": user.given_name,
        "surname": user.surname, "mail": user.upn, "userPrincipalName": user.upn,
        "businessPhones": [], "jobTitle": None, "mobilePhone": None, "officeLocation": None,
        "preferredLanguage": "en-GB",
    }
