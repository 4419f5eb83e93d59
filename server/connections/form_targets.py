"""The Connections page's Content-Security-Policy: `form-action` also names the Salesforce
login hosts.

Chromium applies `form-action` to every redirect that follows a form submission, so the
Connect Salesforce form, whose answer redirects to the login host, is blocked under the
app-wide `form-action 'self'`. The page therefore allows exactly the hosts its form can lead
to: the configured login host, test.salesforce.com, any My Domain (`*.my.salesforce.com`,
sandboxes included), the hosts an admin allowed (SALESFORCE_ALLOWED_HOSTS) and the host the
user connected with before. Another login host (a Government Cloud `*.my.salesforce.mil`)
gets a "Continue to Salesforce" link instead of a redirect (`needs_link`).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from mailferry.config import Config
from mailferry.salesforce_identity import SANDBOX_LOGIN_URL
from server.security import content_security_policy

MY_DOMAIN_SOURCE = "https://*.my.salesforce.com"
# What may go into the policy from stored data: an https origin, host and optional port only.
_HTTPS_ORIGIN = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def login_sources(config: Config, previous_login_host: str | None = None) -> list[str]:
    sources = [_origin(config.salesforce_login_url), SANDBOX_LOGIN_URL, MY_DOMAIN_SOURCE]
    # Admin entries are validated host rules (`salesforce_domains.parse_rule`): host[:port] or *.domain.
    sources += [f"https://{entry.strip().lower()}" for entry in config.salesforce_allowed_hosts]
    previous = _origin(previous_login_host or "")
    if _HTTPS_ORIGIN.match(previous) and previous not in sources:
        sources.append(previous)
    return sources


def policy(config: Config, previous_login_host: str | None = None) -> str:
    allowed = " ".join(["'self'", *login_sources(config, previous_login_host)])
    return content_security_policy(form_action=allowed)


def needs_link(config: Config, login_url: str, previous_login_host: str | None = None) -> bool:
    """True when the Connections page's policy would block a redirect to `login_url`."""
    origin = _origin(login_url)
    if origin in login_sources(config, previous_login_host):
        return False
    host = urlsplit(origin).hostname or ""
    return not (origin.startswith("https://") and host.endswith(".my.salesforce.com"))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
