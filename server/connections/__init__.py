"""Connections: the user's Microsoft 365 and Salesforce connections and mailbox status,
and Connect / Disconnect Salesforce (OAuth web server flow with PKCE)."""

from server.connections.views import blueprint

__all__ = ["blueprint"]
