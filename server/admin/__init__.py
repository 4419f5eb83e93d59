"""Admin pages (SPEC section 6), for the tenant's admins only, each scoped to
`current_user.tenant_id`: the overview, Global Exclusion List, smart addresses, tenant
defaults with locks, users, app-only access, the Salesforce API budget, the audit log and Sync Health."""

from server.admin import app_only, audit_log, sync_health, user_removal
from server.admin.routes import blueprint

app_only.register(blueprint)
audit_log.register(blueprint)
user_removal.register(blueprint)
sync_health.register(blueprint)

__all__ = ["blueprint"]
