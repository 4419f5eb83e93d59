"""Who is signed in, and who may see what.

A signed-in person is an `Account`: the few facts about their `User` row every page needs,
loaded per request (Flask-Login keeps only the user id in the session cookie), and only when
the cookie's sign-in is still live in Redis (`server.sign_in_sessions`): a signed cookie
alone, however valid its signature, signs nobody in. Every query
of user data is scoped by `current_user.id` (their rows) or `current_user.tenant_id`
(an admin's tenant); `admin_required` guards the admin pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import abort
from flask_login import LoginManager, UserMixin, current_user

from mailferry.models import User
from server import sign_in_sessions
from server.extensions import read_db

login_manager = LoginManager()
login_manager.login_view = "auth.sign_in"
login_manager.login_message = "Sign in with Microsoft to see your Sync History."
login_manager.session_protection = "basic"  # a changed address marks the session non-fresh


@dataclass(frozen=True)
class Account(UserMixin):
    id: int
    tenant_id: int
    role: str
    upn: str
    display_name: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def of(cls, user: User) -> "Account":
        return cls(user.id, user.tenant_id, user.role, user.upn, user.display_name or user.upn)


@login_manager.user_loader
def _load(user_id: str) -> Account | None:
    # Also the path of a remember-me cookie: it too needs the live sign-in of this request.
    if not user_id.isdigit() or sign_in_sessions.signed_in_user_id() != int(user_id):
        return None
    # Read without SQLite's write lock (every signed-in request comes here), and the read
    # ended at once, so what the view reads later sees the commits made since.
    session = read_db()
    user = session.get(User, int(user_id))
    account = Account.of(user) if user is not None else None
    session.rollback()
    return account


def admin_required(view):
    """Only the tenant's admins (after `login_required`); anyone else gets 403."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return guarded
