"""Offboarding (SPEC section 14): remove a user, or a whole tenant, from Mailferry.

Removing a user, in this order:

1. The user's row is deleted with everything that hangs off it, by the schema's ON DELETE
   CASCADE (connections and their sealed secrets, mailbox, folders, subscriptions,
   messages and their records, addresses, ignore lists, ignored emails, settings,
   unmatched addresses), and the audit entry is written in that transaction. From that
   commit nothing is synced: a queued sync job finds no mailbox to claim. What the tenant
   keeps is anonymous to them: their user id is nulled (SET NULL) in the Global Exclusion
   entries they added, the defaults they locked and the audit entries they made, which
   keep their name as a copy. (A run already under way when the rows go fails on its next
   write and leaves nothing: its rows' parents are gone.)
2. What Mailferry holds at the providers is then given up, with the tokens read before the
   deletion and kept in memory only:
   - the Graph change-notification subscriptions are deleted (app-only token when the
     tenant uses app-only access, else the user's delegated one); one Graph no longer knows
     is fine, one that cannot be deleted expires within days, and its notifications are
     refused by the webhook since its row is gone;
   - their Salesforce refresh token is revoked (Salesforce's /services/oauth2/revoke, which
     ends its access tokens too).
   - Microsoft: Entra has no revocation of one app's refresh token. Mailferry's copy (the
     MSAL cache, sealed in the connection) is deleted with the row, and for a tenant with
     app-only access Graph `POST /users/{oid}/revokeSignInSessions` ends every sign-in
     session of the person (all their refresh tokens, for every app: they are signed out
     of Microsoft 365 everywhere, which is what a leaver needs). It needs the application
     permission User.RevokeSessions.All; without it Graph answers 403 and the removal says
     which permission to grant. Delegated-only tenants cannot call it (a user needs an
     admin role for another user's sessions): Entra's own offboarding does it there.
   The audit entry is then completed with these answers.

A person removed who signs in again, or is still a member of the tenant's app-only group,
is provisioned again as a new user: remove them from the group (and disable them in Entra)
first.

Removing a tenant removes each of its users as above, revokes the tenant's Salesforce
integration connection, then deletes the tenant row (cascading to everything else).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import quote

import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailferry import audit
from mailferry.admins import LastAdmin
from mailferry.config import Config
from mailferry.crypto import SecretBox, SecretUnreadable
from mailferry.microsoft_identity import acquire_app_token, acquire_delegated_token
from mailferry.models import AuditEntry, Connection, Mailbox, Message, Subscription, Tenant, User
from mailferry.provider_errors import ProviderError
from mailferry.salesforce_identity import SalesforceOAuth
from mailferry.tls import https_session

log = logging.getLogger(__name__)

Sessions = Callable[[], AbstractContextManager[Session]]


@dataclass
class Removal:
    """What removing one user did, for the page's message and the shell's output."""

    upn: str
    salesforce_revoked: bool | None = None  # None: no Salesforce tokens were held
    entra_revoked: bool | None = None  # None: not asked (no app-only access in the tenant)
    subscriptions_deleted: int = 0
    subscriptions_left: int = 0  # could not be deleted at Graph: they expire on their own
    messages_deleted: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.upn} was removed: {self.messages_deleted} Sync History rows and every setting, list "
                 "and connection of theirs deleted."]
        if self.salesforce_revoked:
            parts.append("Their Salesforce access was revoked.")
        elif self.salesforce_revoked is False:
            parts.append("Salesforce could not be reached to revoke their access: revoke Mailferry in Salesforce "
                         "(Setup → Connected Apps OAuth Usage) to be sure.")
        if self.entra_revoked:
            parts.append("Their Microsoft sign-in sessions were revoked (every app signs them out).")
        elif self.entra_revoked is False:
            parts.append("Their Microsoft sign-in sessions were not revoked: " + ENTRA_FIX)
        if self.subscriptions_deleted:
            parts.append(f"{self.subscriptions_deleted} Graph subscription(s) deleted.")
        if self.subscriptions_left:
            parts.append(f"{self.subscriptions_left} Graph subscription(s) could not be deleted and expire "
                         "within 3 days; their notifications are refused.")
        parts.append("Remove them from the app-only group in Entra too, or they are provisioned again.")
        return " ".join(parts)


ENTRA_FIX = ("grant Mailferry's app the Microsoft Graph application permission User.RevokeSessions.All (with "
             "admin consent), or revoke them in Entra (the user's page → Revoke sessions).")


@dataclass(frozen=True)
class _Held:
    """What the provider calls need, read before the rows go."""

    tenant_id: int
    tid: str
    app_only: bool
    upn: str
    oid: str
    microsoft_sealed: bytes | None
    salesforce_sealed: bytes | None
    salesforce_login_host: str | None
    subscription_ids: tuple[str, ...]


def remove_user(sessions: Sessions, config: Config, user_id: int, actor: audit.Actor, *,
                allow_last: bool = False) -> Removal:
    """Remove the user (see the module's docstring). Refuses (`LastAdmin`) to remove the
    tenant's last admin unless `allow_last` (an operator at the shell)."""
    held, entry_id, removal = _delete_rows(sessions, user_id, actor, allow_last)
    box = SecretBox(config.encryption_keys)
    http = https_session(config.client_ca_file)
    try:
        _delete_subscriptions(config, box, http, held, removal)
        if held.app_only:
            removal.entra_revoked = _revoke_sign_in_sessions(config, http, held, removal)
        if held.salesforce_sealed:
            removal.salesforce_revoked = revoke_salesforce(config, box, http, held.salesforce_sealed,
                                                           held.salesforce_login_host)
    finally:
        http.close()
    with sessions() as session:  # the entry gets the providers' answers
        entry = session.get(AuditEntry, entry_id)
        if entry is not None:
            entry.after = {**entry.after, "salesforce_revoked": removal.salesforce_revoked,
                           "entra_sessions_revoked": removal.entra_revoked,
                           "graph_subscriptions_deleted": removal.subscriptions_deleted,
                           "graph_subscriptions_left": removal.subscriptions_left}
            session.commit()
    log.info("offboarding: %s removed %s (salesforce revoked: %s, subscriptions deleted: %d)",
             audit.actor_label(actor), held.upn, removal.salesforce_revoked, removal.subscriptions_deleted)
    return removal


def _delete_rows(sessions: Sessions, user_id: int, actor: audit.Actor,
                 allow_last: bool) -> tuple[_Held, int, Removal]:
    """Delete the user and everything of theirs first, with the audit entry: from this commit
    no run can claim their mailbox (it no longer exists). What the provider calls need is
    kept in memory only, for the calls that follow."""
    with sessions() as session:
        user = session.get(User, user_id)
        if user is None:
            raise LookupError(f"no user {user_id}")
        if user.is_admin and not allow_last and not session.scalar(select(func.count(User.id)).where(
                User.tenant_id == user.tenant_id, User.role == "admin", User.id != user.id)):
            raise LastAdmin(f"{user.upn} is the last admin of the tenant: grant admin to someone else first.")
        connections = {c.provider: c for c in session.scalars(select(Connection).where(Connection.user_id == user_id))}
        subscription_ids = tuple(session.scalars(select(Subscription.graph_subscription_id).join(Mailbox)
                                                 .where(Mailbox.user_id == user_id)))
        microsoft, salesforce = connections.get("microsoft"), connections.get("salesforce")
        held = _Held(user.tenant_id, user.tenant.tid, user.tenant.app_only_enabled, user.upn, user.oid,
                     microsoft.sealed_secrets if microsoft else None,
                     salesforce.sealed_secrets if salesforce else None,
                     salesforce.login_host if salesforce else None, subscription_ids)
        removal = Removal(user.upn, messages_deleted=session.scalar(
            select(func.count(Message.id)).where(Message.user_id == user_id)))
        entry = audit.record(session, user.tenant_id, actor, "user.remove", user.upn,
                             {"upn": user.upn, "display_name": user.display_name, "role": user.role,
                              "sync_history_rows": removal.messages_deleted}, {"removed": True})
        session.delete(user)
        session.commit()
        return held, entry.id, removal


def _delete_subscriptions(config: Config, box: SecretBox, http: requests.Session, held: _Held,
                          removal: Removal) -> None:
    if not held.subscription_ids:
        return
    token = _graph_token(config, box, held)
    if token is None:
        removal.subscriptions_left = len(held.subscription_ids)
        removal.problems.append("no Microsoft token to delete the Graph subscriptions with")
        return
    for subscription_id in held.subscription_ids:
        try:
            # Graph: DELETE /subscriptions/{id} answers 204; 404 once it no longer knows it.
            answer = http.delete(f"{config.microsoft_graph_url}/subscriptions/{quote(subscription_id, safe='=-_')}",
                                 headers={"Authorization": f"Bearer {token}"}, timeout=30)
        except requests.RequestException:
            removal.subscriptions_left += 1
            continue
        if answer.status_code in (204, 404):
            removal.subscriptions_deleted += 1
        else:
            removal.subscriptions_left += 1
            removal.problems.append(f"Graph answered {answer.status_code} deleting a subscription")


def _graph_token(config: Config, box: SecretBox, held: _Held) -> str | None:
    """The token the worker would sync with: app-only for an app-only tenant, else the
    user's delegated one (None when there is none, or it no longer works)."""
    try:
        if held.app_only:
            return acquire_app_token(config, held.tid)
        if held.microsoft_sealed:
            return acquire_delegated_token(config, held.microsoft_sealed, box)[0]
    except ProviderError as error:
        log.warning("offboarding: no Microsoft token to delete subscriptions with: %s", error.code)
    except SecretUnreadable:  # this process lacks the key: the subscriptions expire within days
        log.warning("offboarding: this process's MAILFERRY_ENCRYPTION_KEYS cannot open the Microsoft tokens to "
                    "delete subscriptions with")
    return None


def _revoke_sign_in_sessions(config: Config, http: requests.Session, held: _Held, removal: Removal) -> bool:
    """Graph revokeSignInSessions with the tenant's app-only token: True on 200."""
    try:
        token = acquire_app_token(config, held.tid)
        answer = http.post(f"{config.microsoft_graph_url}/users/{quote(held.oid, safe='')}/revokeSignInSessions",
                           headers={"Authorization": f"Bearer {token}"}, timeout=30)
    except (ProviderError, requests.RequestException) as error:
        removal.problems.append(f"revokeSignInSessions not asked: {error}")
        return False
    if answer.status_code == 200:
        return True
    removal.problems.append(f"Graph answered {answer.status_code} to revokeSignInSessions")
    return False


def revoke_salesforce(config: Config, box: SecretBox, http: requests.Session, sealed: bytes,
                      login_host: str | None) -> bool:
    """Revoke the refresh token (or else the access token) sealed in `sealed`. True when
    Salesforce confirmed or no longer knew it; False when it could not be asked (also when
    this process's keys cannot open the tokens)."""
    try:
        tokens = box.open(sealed)
    except SecretUnreadable:
        return False
    return revoke_salesforce_tokens(config, http, tokens, login_host)


def revoke_salesforce_tokens(config: Config, http: requests.Session, tokens: dict, login_host: str | None) -> bool:
    """Revoke `tokens`' refresh token (which ends its access tokens too), or else its access
    token, at `login_host` (the deployment's login URL when None); see `revoke_salesforce`.
    Also what the Connections page calls on a disconnect and on tokens of a refused org."""
    token = tokens.get("refresh_token") or tokens.get("access_token")
    if not token:
        return True
    oauth = SalesforceOAuth(login_host or config.salesforce_login_url, config.salesforce_client_id,
                            config.salesforce_client_secret, config.salesforce_redirect_uri, http,
                            hosts=config.salesforce_hosts)
    try:
        oauth.revoke(token)
        return True
    except ProviderError as error:
        log.warning("Salesforce revoke failed: %s", error.code)
        return False


def remove_tenant(sessions: Sessions, config: Config, tenant_id: int, actor: audit.Actor) -> list[Removal]:
    """Remove every user of the tenant (tokens revoked, subscriptions deleted), revoke its
    Salesforce integration connection, then delete the tenant and all that is left of it."""
    with sessions() as session:
        user_ids = list(session.scalars(select(User.id).where(User.tenant_id == tenant_id).order_by(User.id)))
        integration = [(c.sealed_secrets, c.login_host) for c in session.scalars(select(Connection).where(
            Connection.tenant_id == tenant_id, Connection.user_id.is_(None), Connection.provider == "salesforce"))
            if c.sealed_secrets]
    removals = [remove_user(sessions, config, user_id, actor, allow_last=True) for user_id in user_ids]
    http = https_session(config.client_ca_file)
    try:
        for sealed, login_host in integration:
            revoke_salesforce(config, SecretBox(config.encryption_keys), http, sealed, login_host)
    finally:
        http.close()
    with sessions() as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is not None:
            log.info("offboarding: %s deleted tenant %s (%s)", audit.actor_label(actor), tenant.tid, tenant.name)
            session.delete(tenant)
            session.commit()
    return removals
