"""Deployment to a real organisation (SPEC section 14): why a user is an admin, how they
were provisioned and the Salesforce user an admin mapped them to; the tenant's app-only
group and its pinned Salesforce org.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _choice(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("app_only_group_id", sa.String(64), nullable=True,
                                   comment="Entra group object id"))
        batch.add_column(sa.Column("app_only_group_name", sa.String(256), nullable=True))
        batch.add_column(sa.Column("app_only_members_synced_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("salesforce_pinned_org_id", sa.String(18), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("admin_source", _choice("admin_source", "app_role", "granted", "first_user"),
                                   nullable=True))
        batch.add_column(sa.Column("provisioned_by", _choice("provisioned_by", "sign_in", "group"),
                                   nullable=False, server_default="sign_in"))
        batch.add_column(sa.Column("salesforce_user_id", sa.String(18), nullable=True))
    # Existing admins became admins as their tenant's first user.
    op.execute("UPDATE users SET admin_source = 'first_user' WHERE role = 'admin'")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("provisioned_by", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        # SQLite's batch copy would keep the CHECKs of the dropped columns otherwise.
        batch.drop_constraint(op.f("ck_users_provisioned_by"), type_="check")
        batch.drop_constraint(op.f("ck_users_admin_source"), type_="check")
        batch.drop_column("salesforce_user_id")
        batch.drop_column("provisioned_by")
        batch.drop_column("admin_source")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("salesforce_pinned_org_id")
        batch.drop_column("app_only_members_synced_at")
        batch.drop_column("app_only_group_name")
        batch.drop_column("app_only_group_id")
