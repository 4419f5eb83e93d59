"""My Settings (SPEC section 6): the Sync Jobs list (the Email Sync row) and its Edit page."""

from server.settings.routes import blueprint

__all__ = ["blueprint"]
