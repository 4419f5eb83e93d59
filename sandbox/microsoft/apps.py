"""App registrations the sandbox tenant knows: client ids, secrets, redirect URIs, app roles.

The demo registration below is what `make run` and tests use; more can be registered through
`POST /_sandbox/apps`. A registration without redirect URIs accepts any https URL on localhost
or 127.0.0.1 (and http on those hosts), so the product can run on any port.
"""

from __future__ import annotations

import pickle
import threading
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

DEMO_CLIENT_ID = "5d1c2f7e-8a3b-4c6d-9e0f-a1b2c3d4e5f6"
DEMO_CLIENT_SECRET = "mailferry-sandbox-secret"
# Graph application permissions an admin consented to for the demo app (client credentials).
DEMO_APP_ROLES = ("Mail.ReadWrite", "MailboxSettings.ReadWrite", "User.Read.All")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass
class AppRegistration:
    client_id: str
    client_secret: str
    display_name: str = "Mailferry (sandbox)"
    redirect_uris: list[str] = field(default_factory=list)
    app_roles: list[str] = field(default_factory=lambda: list(DEMO_APP_ROLES))
    # Extra App ID URIs an OBO assertion's `aud` may carry besides the client id.
    identifier_uris: list[str] = field(default_factory=list)

    def accepts_redirect(self, uri: str) -> bool:
        if self.redirect_uris:
            return uri in self.redirect_uris
        parts = urlsplit(uri)
        return parts.scheme in ("https", "http") and parts.hostname in LOCAL_HOSTS

    def is_audience(self, aud: str) -> bool:
        """An OBO assertion must be issued to this app: its id, or an App ID URI naming it."""
        return aud == self.client_id or aud in self.identifier_uris or (
            aud.startswith("api://") and aud.rstrip("/").endswith("/" + self.client_id))

    def as_json(self) -> dict:
        return asdict(self)


class AppRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._apps: dict[str, AppRegistration] = {}
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._apps = {DEMO_CLIENT_ID: AppRegistration(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)}

    def dump(self) -> bytes:
        with self._lock:
            return pickle.dumps(self._apps)

    def restore(self, saved: bytes) -> None:
        with self._lock:
            self._apps = pickle.loads(saved)

    def get(self, client_id: str) -> AppRegistration | None:
        return self._apps.get(client_id)

    def register(self, app: AppRegistration) -> None:
        with self._lock:
            self._apps[app.client_id] = app

    def all(self) -> list[AppRegistration]:
        with self._lock:
            return list(self._apps.values())
