"""Who may use this deployment (SPEC section 14, "Identity" and "Admins"), as pure decisions
on the configuration and what Entra's ID token says:

- which Entra tenants may sign in (MAILFERRY_ALLOWED_TENANTS, MICROSOFT_TENANT);
- whether the token's app roles make the person an admin (`Mailferry.Admin`);
- which Salesforce org a tenant's users may connect (MAILFERRY_SALESFORCE_ORG_IDS, or the
  org an admin pinned on the admin page).

Tenants are matched by id (the token's `tid`) or by a verified domain. Entra's ID token
carries no list of the tenant's domains, so a domain entry is matched against the domain of
the person's user name (`preferred_username`): a tenant whose users sign in with another of
its domains is not recognised by that entry, and a B2B guest keeps their home domain in
their user name while `tid` is the inviting tenant. Tenant ids are exact; prefer them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailferry.addresses import domain_of
from mailferry.config import MULTI_TENANT, Config

#: The app role (its `value`) an Entra admin assigns to make someone a Mailferry admin.
ADMIN_APP_ROLE = "Mailferry.Admin"
ANY_TENANT = "*"
#: Salesforce org ids are compared by their 15-character form (the 18-character one only adds
#: a case-checking suffix).
ORG_ID_LENGTH = 15


def tenant_matches(entry: str, tid: str, user_name: str) -> bool:
    """Whether a tenant id or domain `entry` names the tenant `tid` of the person `user_name`."""
    entry = entry.lower()
    return entry == tid.lower() or entry == (domain_of(user_name) or "").lower()


def sign_in_refusal(config: Config, tid: str, user_name: str) -> str | None:
    """None when the tenant `tid` may sign in, else why not, naming the setting to change.

    MAILFERRY_ALLOWED_TENANTS `*` admits any tenant and a list the tenants it names. Left
    empty it admits the single tenant of a single-tenant registration (MICROSOFT_TENANT a
    tenant id or domain), any tenant in the demo, and none for a production multi-tenant
    registration (the configuration check refuses that combination at start-up)."""
    allowed = config.allowed_tenants
    if allowed == (ANY_TENANT,) or (not allowed and config.is_demo):
        return None
    if allowed:
        if any(tenant_matches(entry, tid, user_name) for entry in allowed):
            return None
        return (f"Your organization's Microsoft 365 tenant ({tid}) is not one this Mailferry serves: an "
                f"administrator can add it to MAILFERRY_ALLOWED_TENANTS (now {', '.join(allowed)}).")
    if config.microsoft_tenant != MULTI_TENANT and tenant_matches(config.microsoft_tenant, tid, user_name):
        return None
    return (f"Your organization's Microsoft 365 tenant ({tid}) is not the one this Mailferry serves "
            f"(MICROSOFT_TENANT={config.microsoft_tenant}): an administrator can list the tenants allowed to "
            "sign in in MAILFERRY_ALLOWED_TENANTS.")


def is_admin_by_app_role(roles: tuple[str, ...]) -> bool:
    """Whether the ID token's `roles` hold Mailferry's admin app role."""
    return ADMIN_APP_ROLE in roles


@dataclass(frozen=True)
class OrgPin:
    """The Salesforce org a tenant's users must connect, and where that rule comes from."""

    org_id: str | None  # 15 characters, or None: any org
    source: str | None = None  # "config" (MAILFERRY_SALESFORCE_ORG_IDS) | "admin" (the admin page)

    @property
    def from_config(self) -> bool:
        return self.source == "config"


def org_pin(config: Config, tid: str, primary_domain: str | None, admin_pinned: str | None) -> OrgPin:
    """The tenant's pin: an entry of MAILFERRY_SALESFORCE_ORG_IDS naming the tenant (by id or
    primary domain), else one for every tenant (`*`), else the admin's (Tenant.salesforce_pinned_org_id)."""
    named = [org for tenant, org in config.salesforce_org_ids
             if tenant != ANY_TENANT and tenant in (tid.lower(), (primary_domain or "").lower())]
    everyone = [org for tenant, org in config.salesforce_org_ids if tenant == ANY_TENANT]
    chosen = named or everyone
    if chosen:
        return OrgPin(short_org_id(chosen[0]), "config")
    if admin_pinned:
        return OrgPin(short_org_id(admin_pinned), "admin")
    return OrgPin(None)


def short_org_id(org_id: str) -> str:
    return org_id.strip()[:ORG_ID_LENGTH]


def org_refusal(pin: OrgPin, org_id: str) -> str | None:
    """None when a user may connect the org `org_id`, else why not. Without a pin any org
    is accepted (the admin page then offers to pin the org the tenant's users connected)."""
    if pin.org_id is None or short_org_id(org_id) == pin.org_id:
        return None
    where = ("MAILFERRY_SALESFORCE_ORG_IDS" if pin.from_config
             else "the Salesforce org setting of Mailferry's admin pages")
    return (f"This Salesforce org ({short_org_id(org_id)}) is not your organization's: Mailferry here records "
            f"only to org {pin.org_id} ({where}). Nothing was connected and the sign-in to that org was "
            "revoked; connect with your account in your company's org, or ask an admin.")
