"""The shape of a sandbox world: who exists in Microsoft 365 and Salesforce, and what mail
they have. `sandbox.seed.build_world` makes one; each server loads the part it emulates.

Plain data only, so both servers (and tests) can read it without knowing each other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Address:
    """A participant as Graph shows it: `{"emailAddress": {"name", "address"}}`."""

    address: str
    name: str = ""


@dataclass(frozen=True)
class DemoUser:
    """A Microsoft 365 user with a mailbox (a sales rep, or the tenant's admin)."""

    oid: str  # Entra object id (GUID)
    upn: str  # user principal name, also the primary SMTP address
    display_name: str
    given_name: str
    surname: str
    aliases: tuple[str, ...] = ()
    time_zone: str = "Europe/London"
    # The Salesforce User this person signs in to the org as (same person, other cloud).
    salesforce_user_id: str = ""
    salesforce_username: str = ""


@dataclass(frozen=True)
class MailSpec:
    """One message in one user's mailbox folder."""

    user_upn: str
    folder: str  # well-known name: "inbox" or "sentitems" (or "deleteditems")
    sender: Address | None  # None: a malformed message without From
    to: tuple[Address, ...]
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    subject: str = ""
    body_text: str = ""
    received: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    categories: tuple[str, ...] = ()
    internet_message_id: str = ""  # "<...@...>"; the same id in sender's and recipient's copy
    conversation_key: str = ""  # messages with one key share a conversationId
    is_read: bool = True
    has_attachments: bool = False


@dataclass
class World:
    """Everything a reset loads. Salesforce records are dicts of field name → value and carry
    their `Id` (18-character, with the sObject's key prefix) so references between them
    (`AccountId`, `ConvertedContactId`, `OwnerId`) hold."""

    seed: int
    tenant_id: str  # Entra tenant id (GUID)
    tenant_domain: str  # e.g. "contoso-demo.com"
    tenant_name: str
    users: list[DemoUser]
    mails: list[MailSpec]
    # sObject name → records: "User", "Account", "Contact", "Lead", "Opportunity", "Case".
    salesforce: dict[str, list[dict]]
    # Names present in every mailbox's master category list.
    master_categories: tuple[str, ...] = ("CRM", "DoNotSync")
