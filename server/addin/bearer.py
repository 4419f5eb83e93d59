"""Who is calling the add-in API: a bearer token, never a cookie (SPEC section 7).

Inside Outlook the pane is a third-party iframe that may not keep cookies, so every API call
carries `Authorization: Bearer <token>`, one of:
- an Entra access token for Mailferry's API scope, from Nested App Authentication
  (`server.addin.entra_tokens` checks it); the user is found by tenant `tid` + object `oid`;
- where the host has no NAA, a short-lived Mailferry token that the sign-in dialog hands to
  the pane (`issue_dialog_token`): signed with the app's secret key, valid for an hour.

A user is known once they have signed in to Mailferry on the web (which connects their
mailbox); the API refuses others with a message saying so, instead of creating them here.

The scripts also send the address of the mailbox Outlook shows (`X-Mailferry-Mailbox`): a
token of another account (the sign-in dialog lets a person pick any) must not show or change
that account's data while they look at this mailbox.
"""

from __future__ import annotations

import logging
from functools import wraps

from flask import current_app, g, jsonify, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from mailferry.addresses import parse_address
from mailferry.models import Tenant, User
from mailferry.tenancy_policy import sign_in_refusal
from mailferry.outlook_manifest import ManifestBaseUrlError, api_app_id_uri
from mailferry.tls import https_session
from mailferry.user_context import own_addresses
from server.addin.entra_tokens import EntraTokenValidator, KeysUnavailable, TokenRejected
from server.extensions import config, db

log = logging.getLogger(__name__)

#: Marks Mailferry's own dialog tokens (an Entra JWT starts with "eyJ").
DIALOG_TOKEN_PREFIX = "mf1."
DIALOG_TOKEN_SECONDS = 3600
_DIALOG_SALT = "mailferry-addin-dialog-token"


def issue_dialog_token(user_id: int) -> str:
    return DIALOG_TOKEN_PREFIX + _serializer().dumps({"uid": user_id})


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_DIALOG_SALT)


def _validator() -> EntraTokenValidator:
    validator = current_app.extensions.get("mailferry.entra_tokens")
    if validator is None:
        settings = config()
        try:
            app_id_uris: tuple[str, ...] = (api_app_id_uri(settings.base_url, settings.microsoft_client_id),)
        except ManifestBaseUrlError:  # no add-in at this base URL (the manifest page says why)
            app_id_uris = ()
        validator = EntraTokenValidator(settings.microsoft_authority_host, settings.microsoft_client_id,
                                        https_session(settings.client_ca_file), app_id_uris)
        current_app.extensions["mailferry.entra_tokens"] = validator
    return validator


class NotSignedIn(Exception):
    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def _bearer() -> str:
    kind, _, token = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise NotSignedIn(401, "sign_in_required", "Sign in to Mailferry to see this email's sync status.")
    return token.strip()


def _user_from_dialog_token(token: str) -> User | None:
    try:
        claims = _serializer().loads(token[len(DIALOG_TOKEN_PREFIX):], max_age=DIALOG_TOKEN_SECONDS)
    except SignatureExpired as error:
        raise NotSignedIn(401, "sign_in_required", "Your Mailferry sign-in has expired. Sign in again.") from error
    except BadSignature as error:
        raise NotSignedIn(401, "sign_in_required", "Your Mailferry sign-in is not valid. Sign in again.") from error
    return db().get(User, int(claims.get("uid", 0)))


def _user_from_entra_token(token: str) -> User | None:
    try:
        identity = _validator().identity(token)
    except TokenRejected as error:
        log.info("add-in token refused: %s", error)
        raise NotSignedIn(401, "sign_in_required",
                          "Your Microsoft sign-in was not accepted (expired or not valid). Sign in again.") from error
    except KeysUnavailable as error:
        log.warning("%s", error)
        raise NotSignedIn(503, "unavailable", "Mailferry cannot reach Microsoft to check your sign-in. "
                          "Try again in a minute.") from error
    return db().execute(
        select(User).join(Tenant, Tenant.id == User.tenant_id)
        .where(Tenant.tid == identity.tid, User.oid == identity.oid)
    ).scalar_one_or_none()


MAILBOX_HEADER = "X-Mailferry-Mailbox"


def authenticate() -> User:
    token = _bearer()
    user = (_user_from_dialog_token(token) if token.startswith(DIALOG_TOKEN_PREFIX)
            else _user_from_entra_token(token))
    if user is None:
        raise NotSignedIn(403, "not_registered",
                          f"Sign in to Mailferry once at {config().base_url} to connect your mailbox; "
                          "the add-in works from then on.")
    # A tenant taken off MAILFERRY_ALLOWED_TENANTS after its people signed in is not served either.
    refusal = sign_in_refusal(config(), user.tenant.tid, user.upn)
    if refusal:
        raise NotSignedIn(403, "tenant_not_allowed", refusal)
    mailbox = parse_address(request.headers.get(MAILBOX_HEADER, "")).key
    if mailbox and mailbox not in own_addresses(db(), user):
        raise NotSignedIn(403, "wrong_account",
                          f"You are signed in to Mailferry as {user.upn}, but this mailbox is {mailbox}. "
                          "Sign in again with this mailbox's account.")
    return user


def token_required(view):
    """The view runs with `g.addin_user` set; otherwise a JSON error the pane shows."""

    @wraps(view)
    def guarded(*args, **kwargs):
        try:
            g.addin_user = authenticate()
        except NotSignedIn as refusal:
            response = jsonify(error=refusal.error, message=refusal.message)
            response.status_code = refusal.status
            if refusal.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        return view(*args, **kwargs)

    return guarded
