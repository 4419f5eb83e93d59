"""Sign in with Microsoft, sign out, and the landing page (`/`)."""

from server.auth.views import blueprint

__all__ = ["blueprint"]
