"""Sandbox speed: calls per second for a Graph delta page and a SOQL query, over one keep-alive
HTTPS connection, against both sandbox servers served as `mailferry run` serves them.

Target (issue 3): at least 800 calls/s for each, so the sandbox never hides Mailferry's own
cost. A trivial route on the same server is measured in the same run as the yardstick: this
machine is shared and noisy, so compare the ratio, not only the absolute figure.

    mailferry bench sandbox [--calls N]
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import ssl
import statistics
import time
import urllib.parse

from cli.processes import free_port, sandbox_specs, supervise_in_background
from mailferry.config import Config
from mailferry.tls import ensure_certificates, https_session

CONTACT_ADDRESSES = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=3000, help="calls per measurement (default 3000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best is reported (default 3)")


def run(config: Config, args: argparse.Namespace) -> int:
    config = dataclasses.replace(
        config, sandbox_microsoft_port=free_port(), sandbox_salesforce_port=free_port()
    )
    ensure_certificates(config.certs_dir)
    with supervise_in_background(config, sandbox_specs(config, keep_world=False)):
        targets = _prepare(config)
        print(f"sandbox calls per second over one keep-alive HTTPS connection "
              f"({args.calls} calls, best of {args.rounds} rounds)")
        for name, (url, path, headers) in targets.items():
            rates = [_calls_per_second(config, url, path, headers, args.calls) for _ in range(args.rounds)]
            print(f"  {name:<34} {max(rates):8.0f} calls/s   (rounds: "
                  f"{', '.join(f'{r:.0f}' for r in rates)}; median {statistics.median(rates):.0f})")
    return 0


def _prepare(config: Config) -> dict[str, tuple[str, str, dict]]:
    """Tokens and the exact requests to time: Graph app-only token, Salesforce session."""
    microsoft, salesforce = config.sandbox_microsoft_url, config.sandbox_salesforce_url
    with https_session(config.tls_ca_file) as session:
        tenant = session.get(f"{microsoft}/_sandbox/tenant", timeout=10).json()
        app = tenant["apps"][0]
        token = session.post(
            f"{tenant['authority']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app["clientId"],
                "client_secret": app["clientSecret"],
                "scope": "https://graph.microsoft.com/.default",
            },
            timeout=10,
        ).json()["access_token"]
        user = session.get(f"{microsoft}/_sandbox/users", timeout=10).json()["users"][0]
        sf = session.post(f"{salesforce}/_sandbox/sessions", json={}, timeout=10).json()
        contacts = session.get(f"{salesforce}/_sandbox/records/Contact", timeout=10).json()
    contacts = contacts.get("records", contacts) if isinstance(contacts, dict) else contacts
    emails = [c["Email"] for c in contacts if c.get("Email")][:CONTACT_ADDRESSES]
    soql = "SELECT Id, Email, Name, AccountId, CreatedDate FROM Contact WHERE Email IN ({})".format(
        ", ".join("'" + e.replace("\\", "\\\\").replace("'", "\\'") + "'" for e in emails)
    )
    graph_headers = {"Authorization": f"Bearer {token}", "Prefer": "odata.maxpagesize=10"}
    sf_headers = {"Authorization": f"Bearer {sf['access_token']}"}
    upn = urllib.parse.quote(user["userPrincipalName"])
    return {
        "Graph delta page (10 messages)": (
            microsoft, f"/v1.0/users/{upn}/mailFolders/inbox/messages/delta", graph_headers),
        f"SOQL Contact by {len(emails)} emails": (
            salesforce, "/services/data/v59.0/query?" + urllib.parse.urlencode({"q": soql}), sf_headers),
        "trivial route (yardstick)": (microsoft, "/_sandbox/stats", {}),
    }


def _calls_per_second(config: Config, base_url: str, path: str, headers: dict, calls: int) -> float:
    """Sequential calls on one connection (http.client: the least client overhead)."""
    parsed = urllib.parse.urlsplit(base_url)
    context = ssl.create_default_context(cafile=str(config.tls_ca_file))
    connection = http.client.HTTPSConnection(parsed.hostname, parsed.port, context=context, timeout=30)
    try:
        _get(connection, path, headers)  # handshake outside the timing
        started = time.perf_counter()
        for _ in range(calls):
            _get(connection, path, headers)
        return calls / (time.perf_counter() - started)
    finally:
        connection.close()


def _get(connection: http.client.HTTPSConnection, path: str, headers: dict) -> None:
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path[:80]} answered {response.status}: {body[:300]!r}")
    json.loads(body)
