"""Graph subscriptions to messages (reference §1.8): which resource each one watches, matching
mailbox changes to them, and the change/lifecycle notification payloads they produce."""

from __future__ import annotations

import datetime as dt
import pickle
import re
import threading
import uuid
from dataclasses import dataclass

from .mailstore import Change, MailStore
from .render import stamp

_RESOURCE = re.compile(
    r"^/?(?:(?P<me>me)|users/(?P<user>[^/]+))"
    r"(?:/mailFolders(?:\('(?P<qfolder>[^']+)'\)|/(?P<folder>[^/]+)))?/messages$", re.I)


@dataclass
class Subscription:
    id: str
    resource: str
    change_types: list[str]
    notification_url: str
    lifecycle_url: str | None
    expiration: dt.datetime
    client_state: str | None
    application_id: str
    creator_id: str
    mailbox_oid: str
    folder_id: str | None  # None: the whole mailbox

    def as_json(self) -> dict:
        return {
            "id": self.id, "resource": self.resource, "applicationId": self.application_id,
            "changeType": ",".join(self.change_types), "clientState": self.client_state,
            "notificationUrl": self.notification_url, "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": stamp(self.expiration), "creatorId": self.creator_id,
            "includeResourceData": False, "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None, "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }

    def expired(self, now: dt.datetime | None = None) -> bool:
        return self.expiration <= (now or dt.datetime.now(dt.timezone.utc))


def parse_resource(resource: str) -> tuple[str | None, str | None, str | None] | None:
    """(user ref or None for me, folder ref or None, query) — or None if not a message resource."""
    path, _, query = resource.partition("?")
    match = _RESOURCE.match(path)
    if not match:
        return None
    return match["user"], match["qfolder"] or match["folder"], query or None


class SubscriptionStore:
    def __init__(self, store: MailStore, notifier) -> None:
        self._lock = threading.Lock()
        self._store = store
        self._notifier = notifier
        self._subscriptions: dict[str, Subscription] = {}
        store.listeners.append(self.on_changes)
        notifier.on_undelivered = self.on_undelivered

    def reset(self) -> None:
        with self._lock:
            self._subscriptions.clear()

    def dump(self) -> bytes:
        with self._lock:
            return pickle.dumps(self._subscriptions)

    def restore(self, saved: bytes) -> None:
        with self._lock:
            self._subscriptions = pickle.loads(saved)

    def add(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions[subscription.id] = subscription

    def get(self, subscription_id: str) -> Subscription | None:
        with self._lock:
            found = self._subscriptions.get(subscription_id)
            if found is not None and found.expired():
                # Graph deletes subscriptions once they expire.
                del self._subscriptions[subscription_id]
                return None
            return found

    def remove(self, subscription_id: str) -> Subscription | None:
        with self._lock:
            return self._subscriptions.pop(subscription_id, None)

    def all(self) -> list[Subscription]:
        with self._lock:
            live = [s for s in self._subscriptions.values() if not s.expired()]
            self._subscriptions = {s.id: s for s in live}
            return live

    # -- notifications -----------------------------------------------------------------------
    def on_changes(self, changes: list[Change]) -> None:
        subscriptions = self.all()
        if not subscriptions:
            return
        for change in changes:
            for sub in subscriptions:
                if self._matches(sub, change):
                    payload = {"value": [self.change_notification(sub, change)]}
                    self._notifier.deliver(sub.notification_url, payload, "change")

    @staticmethod
    def _matches(sub: Subscription, change: Change) -> bool:
        if sub.mailbox_oid != change.mailbox.user.oid or change.change_type not in sub.change_types:
            return False
        if sub.folder_id is None:
            return change.scope in ("mailbox", "both")
        return change.scope in ("folder", "both") and sub.folder_id == change.folder_id

    def on_undelivered(self, _url: str, payload: dict) -> None:
        """Dropped notifications → `missed` on the lifecycle URL, so the subscriber resyncs (§1.8)."""
        for note in payload.get("value", []):
            sub = self.get(note.get("subscriptionId", ""))
            if sub is not None and sub.lifecycle_url:
                self._notifier.deliver(sub.lifecycle_url, self.lifecycle_notification(sub, "missed"), "lifecycle")

    def change_notification(self, sub: Subscription, change: Change) -> dict:
        resource = f"Users/{change.mailbox.user.oid}/Messages/{change.message_id}"
        return {
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": stamp(sub.expiration),
            "changeType": change.change_type,
            "resource": resource,
            "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "@odata.id": resource,
                             "@odata.etag": f'W/"{change.etag}"', "id": change.message_id},
            "clientState": sub.client_state,
            "tenantId": self._store.tenant_id,
        }

    def lifecycle_notification(self, sub: Subscription, event: str) -> dict:
        return {"value": [{
            "subscriptionId": sub.id, "subscriptionExpirationDateTime": stamp(sub.expiration),
            "tenantId": self._store.tenant_id, "clientState": sub.client_state, "lifecycleEvent": event,
        }]}


def new_id() -> str:
    return str(uuid.uuid4())
