"""Run a WSGI app over real HTTPS on a loopback port in a background thread, for tests."""

from __future__ import annotations

import ssl
import threading

from werkzeug.serving import BaseWSGIServer, make_server

from mailferry.tls import CertificatePaths


def start_https(app, certs: CertificatePaths, port: int = 0, host: str = "127.0.0.1") -> tuple[BaseWSGIServer, str]:
    """Serve `app` on https://localhost:<port> (0: a free one); returns the server and its URL.
    `host` is the address to listen on (e.g. the one this machine's own name resolves to).

    Stop it with `server.shutdown()`.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    server = make_server(host, port, app, threaded=True, ssl_context=context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"https://localhost:{server.server_port}"
