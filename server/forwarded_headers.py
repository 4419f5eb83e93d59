"""Behind a reverse proxy (`mailferry web --proxy`): the client's address, the scheme and the
host come from the proxy's X-Forwarded-For, -Proto and -Host, but only when the connection
comes from the proxy itself.

The proxy terminates TLS, so without its headers every request would look like plain HTTP
from 127.0.0.1: the CSRF check would refuse the browser's `Origin: https://…` (server/csrf.py
compares it with the request's scheme and host), Werkzeug's redirects would point to http://,
and the access log would name the proxy instead of the client. Anyone who reaches the port
directly could send the same headers, so they are believed only from a trusted peer: a Unix
socket (only processes allowed to open the file reach it), 127.0.0.1 or ::1 (the proxy on this
host), or an address of MAILFERRY_TRUSTED_PROXIES. One hop each: the proxy appends the address
it saw to X-Forwarded-For, and that last entry is the one believed (docs/deploy.md).

gunicorn's own handling of these headers is switched off (cli/serve.py), so this is the one
place that decides.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Iterable

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

#: The proxy on this host: loopback exactly, not 127.0.0.0/8 (any local process can take
#: another loopback address as its source).
LOCAL_PROXIES = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))


def trust_proxy(app: Flask, extra_proxies: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = ()) -> None:
    """Make `app` believe X-Forwarded-For/-Proto/-Host from a trusted peer, and only from one."""
    app.wsgi_app = _FromTrustedPeers(app.wsgi_app, (*LOCAL_PROXIES, *extra_proxies))


class _FromTrustedPeers:
    def __init__(self, wsgi_app, trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]):
        self._direct = wsgi_app
        self._proxied = ProxyFix(wsgi_app, x_for=1, x_proto=1, x_host=1)
        self._trusted = trusted

    def __call__(self, environ, start_response):
        handler = self._proxied if self._from_trusted_peer(environ) else self._direct
        return handler(environ, start_response)

    def _from_trusted_peer(self, environ) -> bool:
        if getattr(environ.get("gunicorn.socket"), "family", None) == socket.AF_UNIX:
            return True
        try:
            peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        peer = getattr(peer, "ipv4_mapped", None) or peer  # ::ffff:127.0.0.1 from a dual-stack socket
        return any(peer in network for network in self._trusted)
