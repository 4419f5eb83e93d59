"""App registrations the sandbox tenant knows: client ids, secrets, redirect URIs, app roles.

The demo registration is the one in `SandboxSettings.microsoft_demo_app` (the product's demo
credentials, handed over by whoever starts the sandbox); more can be registered through
`POST /_sandbox/apps`. A registration without redirect URIs accepts any https URL on localhost
or 127.0.0.1 (and http on those hosts), so the product can run on any port.
"""

from __future__ import annotations

import pickle
import threading
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from ..settings import AppCredentials

# Graph application permissions an admin consented to for the demo app (client credentials);
# GroupMember.Read.All reads the app-only onboarding group (reference wave2.md §7.6).
DEMO_APP_ROLES = ("Mail.ReadWrite", "MailboxSettings.ReadWrite", "User.Read.All", "GroupMember.Read.All")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
# `signInAudience` values for work accounts: one tenant, or any organization's.
SIGN_IN_AUDIENCES = ("AzureADMyOrg", "AzureADMultipleOrgs")


@dataclass
class AppRegistration:
    client_id: str
    client_secret: str
    display_name: str = "Mailferry (sandbox)"
    redirect_uris: list[str] = field(default_factory=list)
    app_roles: list[str] = field(default_factory=lambda: list(DEMO_APP_ROLES))
    # Extra App ID URIs an OBO assertion's `aud` may carry besides the client id.
    identifier_uris: list[str] = field(default_factory=list)
    # `signInAudience`: AzureADMyOrg (single tenant) may sign in only on its tenant's own
    # authority, never /organizations or /common (AADSTS50194, reference wave2.md §7.1).
    sign_in_audience: str = "AzureADMultipleOrgs"
    # `api.requestedAccessTokenVersion` (`accessTokenAcceptedVersion` in the old manifest):
    # null or 1 → v1.0 access tokens for this app's API, 2 → v2.0 (reference wave2.md §7.2).
    requested_access_token_version: int | None = None

    def accepts_redirect(self, uri: str) -> bool:
        if self.redirect_uris:
            return uri in self.redirect_uris
        parts = urlsplit(uri)
        return parts.scheme in ("https", "http") and parts.hostname in LOCAL_HOSTS

    def is_audience(self, aud: str) -> bool:
        """An OBO assertion must be issued to this app: its id, or an App ID URI naming it."""
        return aud == self.client_id or aud in self.identifier_uris or (
            aud.startswith("api://") and aud.rstrip("/").endswith("/" + self.client_id))

    def is_multi_tenant(self) -> bool:
        return self.sign_in_audience != "AzureADMyOrg"

    def access_token_version(self) -> str:
        return "2.0" if self.requested_access_token_version == 2 else "1.0"

    def as_json(self) -> dict:
        return asdict(self)


class AppRegistry:
    def __init__(self, demo: AppCredentials) -> None:
        self._lock = threading.Lock()
        self._demo = demo
        self._apps: dict[str, AppRegistration] = {}
        self.reset()

    def _demo_registration(self) -> AppRegistration:
        return AppRegistration(self._demo.client_id, self._demo.client_secret)

    def reset(self) -> None:
        with self._lock:
            self._apps = {self._demo.client_id: self._demo_registration()}

    def dump(self) -> bytes:
        with self._lock:
            return pickle.dumps(self._apps)

    def restore(self, saved: bytes) -> None:
        with self._lock:
            self._apps = pickle.loads(saved)
            # A world saved under other demo credentials still knows today's demo app.
            self._apps.setdefault(self._demo.client_id, self._demo_registration())

    def get(self, client_id: str) -> AppRegistration | None:
        return self._apps.get(client_id)

    def register(self, app: AppRegistration) -> None:
        with self._lock:
            self._apps[app.client_id] = app

    def all(self) -> list[AppRegistration]:
        with self._lock:
            return list(self._apps.values())
