"""Sign in with Microsoft, sign out, the landing page (`/`) and the admin consent flow."""

from server.auth import consent  # its routes are on the same blueprint
from server.auth.views import blueprint

__all__ = ["blueprint", "consent"]
