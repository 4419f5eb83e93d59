"""Every table of Mailferry, importable from one place.

Importing this package registers all models on `mailferry.db.Base.metadata`, which is
what Alembic compares migrations against.
"""

from mailferry.models.audit import AuditEntry
from mailferry.models.connections import Connection
from mailferry.models.history import (
    IgnoredEmail,
    Message,
    MessageRecord,
    OmittedDailyCount,
    UnmatchedAddress,
)
from mailferry.models.mailbox import Mailbox, MailboxFolder, Subscription
from mailferry.models.rules import IgnoreEntry
from mailferry.models.settings import TenantSetting, UserSetting
from mailferry.models.tenancy import Tenant, User, UserAddress
from mailferry.models.usage import ApiUsageSample

__all__ = [
    "ApiUsageSample",
    "AuditEntry",
    "Connection",
    "IgnoreEntry",
    "IgnoredEmail",
    "Mailbox",
    "MailboxFolder",
    "Message",
    "MessageRecord",
    "OmittedDailyCount",
    "Subscription",
    "Tenant",
    "TenantSetting",
    "UnmatchedAddress",
    "User",
    "UserAddress",
    "UserSetting",
]
