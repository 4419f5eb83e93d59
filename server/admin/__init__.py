"""Admin pages (SPEC section 6), for the tenant's admins only, each scoped to
`current_user.tenant_id`: the overview, Global Exclusion List, smart addresses, tenant
defaults with locks, users, app-only access, and the Salesforce API budget."""

from server.admin import app_only
from server.admin.routes import blueprint

app_only.register(blueprint)

__all__ = ["blueprint"]
