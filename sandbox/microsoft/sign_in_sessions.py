"""Graph `POST /users/{id | userPrincipalName}/revokeSignInSessions`, as Entra answers it
(https://learn.microsoft.com/graph/api/user-revokesigninsessions):

- It invalidates every refresh token issued to any application for the user (it resets
  their `signInSessionsValidFromDateTime`); redeeming one afterwards is `invalid_grant`
  AADSTS50173 "The provided grant has expired due to it being revoked" (the refresh grant
  of sandbox/microsoft/identity.py). It answers 200 `{"value": true}`.
- Permissions (the page's table): application `User.RevokeSessions.All` (no higher one is
  available for applications); delegated `User.RevokeSessions.All`, `User.ReadWrite.All` or
  `Directory.ReadWrite.All`, for another user only with an admin role, which the sandbox
  does not model: a delegated caller may revoke only their own sessions.
- Without the permission Graph answers 403 `Authorization_RequestDenied` "Insufficient
  privileges to complete the operation." (the body shown on Microsoft Q&A 2155798); an
  unknown user is 404 `Request_ResourceNotFound`.
"""

from __future__ import annotations

from flask import Blueprint, g

from .errors import GraphError
from .graph_mail import as_json, base
from .state import state

bp = Blueprint("sign_in_sessions", __name__)

APPLICATION = frozenset({"User.RevokeSessions.All"})
DELEGATED = frozenset({"User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"})
DENIED = "Insufficient privileges to complete the operation."


# `user_id`, not `user_ref`: a directory call, so the gate neither resolves a mailbox nor
# applies Exchange's application access policy to it.
@bp.post("/v1.0/users/<user_id>/revokeSignInSessions")
def revoke_sign_in_sessions(user_id):
    user = state().store.user(user_id)
    caller = g.caller
    allowed = DELEGATED if caller.delegated else APPLICATION
    if not caller.permissions & allowed or (caller.delegated and (user is None or user.oid != caller.oid)):
        raise GraphError(403, "Authorization_RequestDenied", DENIED)
    if user is None:
        raise GraphError(404, "Request_ResourceNotFound", f"Resource '{user_id}' does not exist or one of its "
                         "queried reference-property objects are not present.")
    state().grants.revoke_user(user.oid)
    return as_json({"@odata.context": f"{base()}/$metadata#Edm.Boolean", "value": True})
