"""App registrations the sandbox tenant knows: client ids, secrets, redirect URIs, app roles.

Two kinds of app role live here, as on Entra: `app_roles` are the Graph application
permissions an admin granted the app (client credentials), `defined_roles` the app's own
`appRoles` (its manifest), which users are assigned directly or through a group
(`role_assignments`) and then carry in `roles` (reference wave2.md §7.3). `user_consent` and
`admin_consented` model the tenant's consent to the app (reference wave2.md §7.4).

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
#: The app role Mailferry's registration defines for its admins, as the manifest holds it
#: (reference wave2.md §7.3: `allowedMemberTypes` User, `value` what appears in `roles`).
MAILFERRY_ADMIN_ROLE = {"allowedMemberTypes": ["User"], "description": "Administers Mailferry",
                        "displayName": "Mailferry Admin", "id": "0b6e1d54-5c4a-4d7e-9f3b-2a8c6e1f4d90",
                        "isEnabled": True, "value": "Mailferry.Admin"}


@dataclass
class RoleAssignment:
    """An app role assigned to a user, or to a group and so to each of its members."""

    role: str  # the role's `value`
    principal_id: str  # the user's or the group's object id
    principal_type: str = "User"  # "User" or "Group"

    def covers(self, oid: str, groups: frozenset[str]) -> bool:
        """Whether it reaches the user `oid`, a member (transitively) of `groups`."""
        return self.principal_id == oid if self.principal_type == "User" else self.principal_id in groups


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
    # `keyCredentials` of the manifest: certificates whose private key may sign the app's
    # client assertions, each {"customKeyIdentifier": base64 SHA-1 thumbprint, "keyId",
    # "type": "AsymmetricX509Cert", "usage": "Verify", "key": base64 DER certificate}
    # (reference wave2.md §7.5).
    key_credentials: list[dict] = field(default_factory=list)
    # `appRoles` of the manifest, and who holds them (`roles` claims, reference wave2.md §7.3).
    defined_roles: list[dict] = field(default_factory=lambda: [dict(MAILFERRY_ADMIN_ROLE)])
    role_assignments: list[RoleAssignment] = field(default_factory=list)
    # Whether the tenant lets users consent to this app themselves (Entra's "Allow user
    # consent"); when not, users are refused with consent_required until an administrator
    # consented for the whole tenant through /adminconsent (`admin_consented`).
    user_consent: bool = True
    admin_consented: bool = False

    def roles_of(self, oid: str, groups: frozenset[str] = frozenset()) -> list[str]:
        """The `roles` claim for the user `oid`, a member of `groups`: the roles assigned to
        them directly or through a group. A role disabled after it was assigned stays in its
        assignees' tokens, as on Entra (reference wave2.md §7.3); only new assignments need it
        enabled."""
        return sorted({a.role for a in self.role_assignments if a.covers(oid, groups)})

    def assignable_role(self, value: str) -> bool:
        return any(r["value"] == value and r.get("isEnabled", True) and "User" in r.get("allowedMemberTypes", ())
                   for r in self.defined_roles)

    def needs_admin_consent(self) -> bool:
        return not self.user_consent and not self.admin_consented

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
