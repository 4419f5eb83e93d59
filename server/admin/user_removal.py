"""Removing a user from Mailferry (SPEC section 14, "Offboarding"), from Admin → Users: a
confirmation page that says what goes, then a CSRF-checked POST naming the user's sign-in
name again (a destructive action is not one stray click). `mailferry.offboarding` does the
work; the admin's own tenant only, never oneself, never the tenant's last admin."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from mailferry.admins import LastAdmin
from mailferry.models import Message, User
from mailferry.offboarding import remove_user
from server.access import admin_required
from server.extensions import config, db, db_session


def register(blueprint) -> None:
    blueprint.add_url_rule("/users/<int:user_id>/remove", "confirm_remove_user", confirm, methods=["GET"])
    blueprint.add_url_rule("/users/<int:user_id>/remove", "remove_user", remove, methods=["POST"])


def _user_of_my_tenant(user_id: int) -> User:
    user = db().execute(select(User).where(User.id == user_id, User.tenant_id == current_user.tenant_id)
                        ).scalar_one_or_none()
    if user is None:
        abort(404)  # another tenant's user: existence not revealed (as change_admin)
    return user


def _page(user: User, error: str | None = None):
    history = db().scalar(select(func.count(Message.id)).where(Message.user_id == user.id))
    return render_template("admin/remove_user.html", person=user, history=history, error=error,
                           oneself=user.id == current_user.id), (422 if error else 200)


@admin_required
def confirm(user_id: int):
    return _page(_user_of_my_tenant(user_id))


@admin_required
def remove(user_id: int):
    user = _user_of_my_tenant(user_id)
    if user.id == current_user.id:
        return _page(user, "You cannot remove yourself: ask another admin.")
    if request.form.get("confirm_upn", "").strip().lower() != user.upn.lower():
        return _page(user, f"Type {user.upn} to confirm.")
    db().close()  # the removal uses its own short transactions and calls Salesforce and Graph between them
    try:
        removal = remove_user(db_session, config(), user_id, current_user.id)
    except LastAdmin as refusal:
        flash(str(refusal), "error")
        return redirect(url_for("admin.users"))
    flash(removal.summary(), "success" if removal.salesforce_revoked is not False else "warning")
    return redirect(url_for("admin.users"))
