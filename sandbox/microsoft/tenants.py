"""Other organizations' Entra tenants, next to the sandbox's own (the mail store's tenant):
their ids, domains, names and users, so a person of another organization can be shown
signing in (`POST /_sandbox/tenants`, docs/sandbox.md).

They are directories only: their users sign in on the sandbox's sign-in page and get tokens
naming their own tenant, but have no mailbox, and Graph answers their tokens as it answers
any token of a tenant it does not serve (`gate.authenticate`: 401 "Invalid tenant").

Here: which tenant an authority names, whose user a sign-in is, and Entra's words when one
does not belong where they sign in; `identity.py` answers with them.
"""

from __future__ import annotations

import pickle
import threading
from dataclasses import dataclass, field

from ..world import DemoUser
from .claims import V1_ISSUER
from .state import state

#: Tenant segments that name no tenant: any organization's users sign in there.
MULTI_TENANT_SEGMENTS = ("common", "organizations", "consumers")


@dataclass
class Tenant:
    """A directory: its id, a verified domain, its display name, and (for the other
    organizations' tenants) its users. The sandbox's own tenant is described by one too,
    with its users in the mail store (`home`)."""

    tenant_id: str
    domain: str
    name: str
    users: list[DemoUser] = field(default_factory=list)

    def names(self, segment: str) -> bool:
        """Whether the authority segment `segment` (an id or a verified domain) is this tenant."""
        return segment.lower() in (self.tenant_id.lower(), self.domain.lower())


@dataclass(frozen=True)
class Member:
    """A user and the tenant they belong to (their home tenant)."""

    user: DemoUser
    tenant: Tenant


def home(store) -> Tenant:
    """The sandbox's own tenant, the one the mail store holds."""
    return Tenant(store.tenant_id, store.tenant_domain, store.tenant_name)


class TenantDirectory:
    """The other organizations' tenants, by tenant id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tenants: dict[str, Tenant] = {}

    def reset(self) -> None:
        with self._lock:
            self._tenants = {}

    def dump(self) -> bytes:
        with self._lock:
            return pickle.dumps(self._tenants)

    def restore(self, saved: bytes) -> None:
        with self._lock:
            self._tenants = pickle.loads(saved)

    def add(self, tenant: Tenant) -> None:
        with self._lock:
            self._tenants[tenant.tenant_id] = tenant

    def all(self) -> list[Tenant]:
        with self._lock:
            return list(self._tenants.values())

    def named(self, segment: str) -> Tenant | None:
        """The tenant an authority segment names by id or domain, if it is one of these."""
        return next((t for t in self.all() if t.names(segment)), None)

    def member(self, ref: str) -> Member | None:
        """A user of one of these tenants by object id or UPN (case-insensitive)."""
        folded = ref.lower()
        for tenant in self.all():
            for user in tenant.users:
                if folded in (user.oid.lower(), user.upn.lower()):
                    return Member(user, tenant)
        return None


def authority_tenant(segment: str) -> Tenant | None:
    """The tenant an authority's segment names (its id or a verified domain); None for
    /common, /organizations and /consumers. A segment naming no tenant the sandbox knows
    stays its own tenant, as it was before there were others."""
    if segment.lower() in MULTI_TENANT_SEGMENTS:
        return None
    return state().tenants.named(segment) or home(state().store)


def member(ref: str) -> Member | None:
    """A user of the sandbox's tenant or of another organization's, by object id or UPN,
    with the tenant they belong to."""
    sandbox = state()
    user = sandbox.store.user(ref)
    return Member(user, home(sandbox.store)) if user is not None else sandbox.tenants.member(ref)


def not_a_member(app, segment: str, found: Member) -> str | None:
    """Why Entra refuses `found` at the authority `segment`, or None: a tenant's own
    authority signs in its own users only (guests are not emulated). Entra's words for
    AADSTS50020 (learn.microsoft.com/entra/identity-platform/reference-error-codes, and the
    troubleshooting article "Error AADSTS50020 - User account from identity provider does
    not exist in tenant"); an Entra user's identity provider is their tenant's v1 issuer
    (as quoted in AzureAD/azure-activedirectory-library-for-js#501)."""
    tenant = authority_tenant(segment)
    if tenant is None or tenant.tenant_id == found.tenant.tenant_id:
        return None
    return (f"User account '{found.user.upn}' from identity provider "
            f"'{V1_ISSUER.format(tid=found.tenant.tenant_id)}' does not exist in tenant '{tenant.name}' "
            f"and cannot access the application '{app.client_id}'({app.display_name}) in that tenant. The account "
            "needs to be added as an external user in the tenant first. Sign out and sign in again with a "
            "different Azure Active Directory user account.")


def not_in_directory(app, tenant: Tenant) -> str:
    """AADSTS700016's words for an app the tenant an authority names does not know
    (reference-error-codes above; the full text as quoted in public logs, e.g. Azure CLI's
    and Zammad's docs). Every registration lives in the sandbox's own tenant, and no
    administrator of another organization's tenant has consented to one there."""
    return (f"Application with identifier '{app.client_id}' was not found in the directory '{tenant.name}'. "
            "This can happen if the application has not been installed by the administrator of the tenant or "
            "consented to by any user in the tenant. You may have sent your authentication request to the "
            "wrong tenant.")


def is_foreign(tenant: Tenant | None) -> bool:
    """Whether an authority's tenant is another organization's, not the sandbox's own."""
    return tenant is not None and tenant.tenant_id != state().store.tenant_id
