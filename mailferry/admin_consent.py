"""Entra admin consent (reference wave2.md §7.4): the link an administrator follows to consent
to Mailferry for their whole tenant, and what Entra's answer says.

Entra sends the browser back to the redirect URI with `admin_consent=True&tenant=<tid>&
scope=…&state=…` on success, or `error=consent_required&error_description=AADSTS65004…`
when the administrator declined. The answer only informs: `tenant` is whatever the query
string says, so nothing is authorised or stored because of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlencode

from mailferry.config import Config

#: Everything configured on the registration (delegated and application permissions);
#: application permissions need `/.default` (§7.4).
CONSENT_SCOPE = "https://graph.microsoft.com/.default"
# Entra's answers that mean "an administrator must consent first": consent_required with
# AADSTS65001 (not consented) or AADSTS90094 (the grant requires admin permission).
_ADMIN_CONSENT_CODES = ("AADSTS65001", "AADSTS90094")


def needs_admin_consent(error: str, description: str) -> bool:
    """Whether a sign-in refusal is one an administrator's consent fixes."""
    return error == "consent_required" or any(code in (description or "") for code in _ADMIN_CONSENT_CODES)


def consent_url(config: Config, redirect_uri: str, state: str) -> str:
    """Entra's admin consent page for Mailferry on the configured authority: MICROSOFT_TENANT
    (`organizations`: the tenant of whoever signs in there; never `common`, which Entra refuses)."""
    query = urlencode({"client_id": config.microsoft_client_id, "scope": CONSENT_SCOPE,
                       "redirect_uri": redirect_uri, "state": state})
    return f"{config.microsoft_authority_host.rstrip('/')}/{config.microsoft_tenant}/v2.0/adminconsent?{query}"


@dataclass(frozen=True)
class ConsentAnswer:
    granted: bool
    tenant: str | None  # as Entra's redirect says: information only
    detail: str  # the refusal's first line, or ""


def read_answer(answer: Mapping[str, str]) -> ConsentAnswer:
    """What the redirect's query string says happened."""
    if answer.get("error"):
        first_line = (answer.get("error_description") or "").strip().splitlines()[:1]
        return ConsentAnswer(False, None, f"{answer['error']}: {first_line[0]}" if first_line else answer["error"])
    granted = (answer.get("admin_consent") or "").lower() == "true"
    return ConsentAnswer(granted, answer.get("tenant") or None, "" if granted else "Entra ID gave no answer")
