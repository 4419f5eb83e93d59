"""Sync History pages (SPEC section 5): the four tabs, their row actions and CSV export."""

from server.history.routes import blueprint

__all__ = ["blueprint"]
