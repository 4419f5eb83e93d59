"""The Ignore List page (SPEC section 5): the user's entries, add and remove."""

from server.ignore_list.routes import blueprint

__all__ = ["blueprint"]
