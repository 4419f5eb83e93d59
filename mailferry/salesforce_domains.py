"""Which hosts Mailferry treats as Salesforce: where the consumer secret may be sent (login
hosts) and where a token response's `instance_url` and `id` may point (service hosts).

Salesforce's own domains are built in; an admin adds others in SALESFORCE_ALLOWED_HOSTS, and
the configured SALESFORCE_LOGIN_URL (the sandbox in the demo) is trusted because the admin
set it. Nothing a user types or a server answers can widen the list.

The built-in domains, and where they are documented:

- `login.salesforce.com` (production, Developer Edition) and `test.salesforce.com`
  (sandboxes): reference `salesforce.md` 1.1; help.salesforce.com
  `xcloud.domain_name_setting_login_policy.htm`.
- `<MyDomainName>.my.salesforce.com` and every partition below it, all ending in
  `.my.salesforce.com`: `<name>--<sandbox>.sandbox.`, `.develop.`, `.scratch.`, `.patch.`,
  `.demo.`, `.trailblaze.`, `.free.` (developer.salesforce.com Tooling API, OrgDomainLog
  `DomainPartition`: "the format of a My Domain login hostname for a Developer Edition org
  with partitioned domains is MyDomainName.develop.my.salesforce.com"; help
  `xcloud.domain_name_partitioned_domains_patch.htm`).
- `<MyDomainName>.my.salesforce.mil`, Government Cloud Plus – Defense (Salesforce's own CLI
  library forcedotcom/sfdx-core, `src/util/sfdcUrl.ts`, maps `.my.salesforce.mil` to
  `.lightning.crmforce.mil`).
- Service hosts only: an instanced host, one label under salesforce.com (`na139`, `cs42`,
  `eu55`, `usa77`: help `xcloud.domain_name_setting_login_policy.htm` names
  `https://usa77.salesforce.com`), which older orgs return as `instance_url`.

Left out on purpose: `*.force.com`, `*.site.com` and `*.my.site.com` serve orgs' own
Lightning, Visualforce and Experience Cloud pages (content a customer controls), which are
never the login host nor the identity URL of the web server flow; China's Salesforce on
Alibaba Cloud domains are not documented where we could read them. An admin who needs one
lists it in SALESFORCE_ALLOWED_HOSTS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")
MY_DOMAIN_SUFFIXES = (".my.salesforce.com", ".my.salesforce.mil")
_INSTANCED_HOST = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.salesforce\.com$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# What a network location may hold at all: no user info, no backslash, no IPv6 brackets, so
# no parser (ours, urllib3's) can read another host into it than the one we checked.
_NETLOC = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$")
# A Salesforce identity URL: https://<host>/id/<orgId>/<userId> (reference 1.4, 1.7).
_IDENTITY_PATH = re.compile(r"^/id/(00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?)/(005[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?)$")


@dataclass(frozen=True)
class Origin:
    """An https origin, host in lower case; `port` None for the default 443."""

    host: str
    port: int | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}" if self.port is None else f"https://{self.host}:{self.port}"


@dataclass(frozen=True)
class HostRule:
    """One admin entry: `host`, `host:port`, or `*.suffix` (any host below the suffix)."""

    host: str
    port: int | None = None
    wildcard: bool = False

    def matches(self, origin: Origin) -> bool:
        if origin.port != self.port:
            return False
        if self.wildcard:
            return origin.host.endswith("." + self.host)
        return origin.host == self.host


def parse_origin(url: str | None, *, path_allowed: bool = False) -> tuple[Origin, str] | None:
    """(origin, path) of a plain https URL, or None for anything else: another scheme, user
    info, a query or fragment, a host that is not an ASCII DNS name, a trailing dot. The
    path must be empty or `/` unless `path_allowed`."""
    if not isinstance(url, str) or len(url) > 2048:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() != "https" or parts.query or parts.fragment or not _NETLOC.match(parts.netloc):
        return None
    host = (parts.hostname or "").lower()
    labels = host.split(".")
    if (len(labels) < 2 and host != "localhost") or not all(_LABEL.match(label) for label in labels):
        return None
    if not path_allowed and parts.path not in ("", "/"):
        return None
    if port == 443:
        port = None
    return Origin(host, port), parts.path


def parse_rule(entry: str) -> HostRule:
    """An admin's SALESFORCE_ALLOWED_HOSTS entry; ValueError (saying why) when it is not one."""
    value = entry.strip().lower()
    wildcard = value.startswith("*.")
    parsed = parse_origin("https://" + (value[2:] if wildcard else value))
    if parsed is None or "://" in value or "/" in value:
        raise ValueError(f"{entry!r} is not a host name, host:port or *.domain")
    origin = parsed[0]
    if wildcard and origin.host.count(".") < 1:
        raise ValueError(f"{entry!r} is too wide: name a domain below a public suffix, e.g. *.acme.example")
    return HostRule(origin.host, origin.port, wildcard)


def _salesforce_login_host(origin: Origin) -> bool:
    if origin.port is not None:
        return False
    if origin.host in LOGIN_HOSTS:
        return True
    return any(origin.host.endswith(suffix) and len(origin.host) > len(suffix) for suffix in MY_DOMAIN_SUFFIXES)


@dataclass(frozen=True)
class SalesforceHosts:
    """The hosts this deployment talks to as Salesforce: the built-in domains plus `rules`."""

    rules: tuple[HostRule, ...] = ()

    @classmethod
    def trusting(cls, *urls: str, entries: tuple[str, ...] = ()) -> SalesforceHosts:
        """Built-ins plus the origins of `urls` (the configured login URL) and the admin's
        `entries`; ValueError for an entry that is not a host rule."""
        rules = [parse_rule(entry) for entry in entries]
        for url in urls:
            parsed = parse_origin(url, path_allowed=True)
            if parsed is not None:
                rules.append(HostRule(parsed[0].host, parsed[0].port))
        return cls(tuple(rules))

    def _listed(self, origin: Origin) -> bool:
        return any(rule.matches(origin) for rule in self.rules)

    def login_url(self, url: str | None) -> str | None:
        """The canonical `https://host[:port]` when `url` is a login host the consumer secret
        may be sent to, else None."""
        parsed = parse_origin(url)
        if parsed is None:
            return None
        origin = parsed[0]
        return origin.url if _salesforce_login_host(origin) or self._listed(origin) else None

    def service_url(self, url: str | None) -> str | None:
        """The canonical origin when `url` may be an `instance_url`, else None."""
        parsed = parse_origin(url)
        if parsed is None:
            return None
        return parsed[0].url if self._service_origin(parsed[0]) else None

    def identity_url(self, url: str | None) -> str | None:
        """The canonical identity URL (`https://host/id/<org>/<user>`) when `url` is one on a
        service host, else None; only this value is ever fetched."""
        parsed = parse_origin(url, path_allowed=True)
        if parsed is None:
            return None
        origin, path = parsed
        if not _IDENTITY_PATH.match(path) or not self._service_origin(origin):
            return None
        return origin.url + path

    def _service_origin(self, origin: Origin) -> bool:
        if _salesforce_login_host(origin) or self._listed(origin):
            return True
        return origin.port is None and bool(_INSTANCED_HOST.match(origin.host))


def identity_ids(url: str | None) -> tuple[str, str] | None:
    """(orgId, userId) from an identity URL's path, or None when it has not that shape."""
    parsed = parse_origin(url, path_allowed=True)
    match = _IDENTITY_PATH.match(parsed[1]) if parsed else None
    return (match.group(1), match.group(2)) if match else None
