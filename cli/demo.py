"""Connect the sandbox's demo users so `make run` syncs mail without anyone signing in.

It goes through the same doors a person would: the users are provisioned as a Microsoft
sign-in provisions them, the tenant uses app-only Microsoft access for the group of all demo
users (an admin option: the App-only access page), and each user's Salesforce connection is
made by the OAuth web server flow with PKCE, driven against the sandbox's authorize page. Only the CLI (the composition root) may know the
sandbox's control API, which it reads here to learn who the demo users are.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from mailferry.config import Config
from mailferry.crypto import SecretBox
from mailferry.db import make_engine, make_session_factory
from mailferry.models import Connection, Mailbox
from mailferry.provisioning import Person, provision_user, save_connection
from mailferry.salesforce_identity import Pkce, SalesforceOAuth, authorize_url
from mailferry.tls import https_session

def connect_demo_users(config: Config) -> list[int]:
    """Provision every sandbox user and connect their Salesforce; returns their mailbox ids."""
    http = https_session(config.tls_ca_file)
    directory = http.get(f"{config.sandbox_microsoft_url}/_sandbox/users", timeout=30).json()
    tenant = http.get(f"{config.sandbox_microsoft_url}/_sandbox/tenant", timeout=30).json()
    groups = http.get(f"{config.sandbox_microsoft_url}/_sandbox/groups", timeout=30).json()["groups"]
    box = SecretBox(config.encryption_keys)
    engine = make_engine(config.database_url)
    sessions = make_session_factory(engine)
    oauth = SalesforceOAuth(config.salesforce_login_url, config.salesforce_client_id,
                            config.salesforce_client_secret, config.salesforce_redirect_uri, http)
    try:
        with sessions.begin() as session:
            for entry in directory["users"]:
                person = Person(directory["tenantId"], entry["id"], entry["userPrincipalName"],
                                entry["displayName"], tuple(entry.get("aliases") or ()))
                user, _ = provision_user(session, person, tenant.get("name", ""), first_user_admin=config.is_demo)
                _name_app_only_group(user.tenant, groups)
                if _salesforce_connected(session, user.id) or not entry.get("salesforceUsername"):
                    continue
                tokens = sign_in_to_salesforce(config, http, oauth, entry["salesforceUsername"])
                identity = oauth.identity(tokens)
                save_connection(session, user, "salesforce", box.seal(tokens),
                                account_label=identity.get("username"), external_user_id=identity["user_id"],
                                external_org_id=identity["org_id"], instance_url=tokens.get("instance_url"),
                                login_host=config.salesforce_login_url, scopes=tokens.get("scope"))
        with sessions() as session:
            return list(session.execute(select(Mailbox.id).order_by(Mailbox.id)).scalars())
    finally:
        engine.dispose()
        http.close()


def _name_app_only_group(tenant, groups: list[dict]) -> None:
    """App-only access for the group of all demo users, as an admin sets it on the App-only
    access page; the scheduler's membership runs (worker.jobs.sync_group_members) then keep
    the tenant in step with it, as in a real organisation."""
    tenant.app_only_enabled = True
    if groups and tenant.app_only_group_id is None:
        tenant.app_only_group_id = groups[0]["id"]


def _salesforce_connected(session, user_id: int) -> bool:
    return session.execute(
        select(Connection.id).where(Connection.user_id == user_id, Connection.provider == "salesforce",
                                    Connection.status == "connected")
    ).first() is not None


def sign_in_to_salesforce(config: Config, http, oauth: SalesforceOAuth, username: str) -> dict:
    """The web server flow with PKCE: the sandbox's authorize form, submitted as the user (also
    how tests connect a tenant's Salesforce integration user)."""
    users = http.get(f"{config.sandbox_salesforce_url}/_sandbox/records/User",
                     params={"Username": username}, timeout=30).json()
    records = users.get("records", users) if isinstance(users, dict) else users
    pkce, state = Pkce.new(), secrets.token_urlsafe(16)
    url = authorize_url(config.salesforce_login_url, config.salesforce_client_id, oauth.redirect_uri,
                        state, pkce.challenge, login_hint=username)
    form = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    answer = http.post(url.split("?")[0], data={**form, "user_id": records[0]["Id"], "action": "allow"},
                       allow_redirects=False, timeout=30)
    callback = parse_qs(urlsplit(answer.headers["Location"]).query)
    if callback.get("state", [""])[0] != state:
        raise RuntimeError("the Salesforce sandbox answered the demo sign-in with another state")
    return oauth.exchange_code(callback["code"][0], pkce.verifier)
