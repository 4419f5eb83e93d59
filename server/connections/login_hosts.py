"""Where "Connect Salesforce" sends the person to sign in: the configured login host
(SALESFORCE_LOGIN_URL: production by default, the sandbox in the demo), Salesforce sandboxes
(test.salesforce.com), or their org's My Domain."""

from __future__ import annotations

from dataclasses import dataclass

from mailferry.config import Config
from mailferry.salesforce_identity import PRODUCTION_LOGIN_URL, login_url_for

CHOICES = ("configured", "sandbox", "my_domain")


@dataclass(frozen=True)
class LoginChoice:
    value: str
    label: str
    hint: str


def login_choices(config: Config) -> list[LoginChoice]:
    configured = config.salesforce_login_url
    if config.is_demo:
        first = LoginChoice("configured", "Demo org", f"the demo Salesforce at {configured}")
    elif configured == PRODUCTION_LOGIN_URL:
        first = LoginChoice("configured", "Production", "login.salesforce.com")
    else:
        first = LoginChoice("configured", "Production", configured.removeprefix("https://"))
    return [
        first,
        LoginChoice("sandbox", "Sandbox", "test.salesforce.com"),
        LoginChoice("my_domain", "My Domain", "your org's own login host, e.g. acme or acme--uat.sandbox"),
    ]


def chosen_login_url(config: Config, kind: str, my_domain: str | None) -> str:
    """The login URL for the form's choice; ValueError (with a message for people) when the
    choice or the My Domain name is not valid."""
    if kind == "configured":
        return config.salesforce_login_url
    if kind == "sandbox":
        return login_url_for("sandbox")
    if kind == "my_domain":
        if not (my_domain or "").strip():
            raise ValueError("Enter your My Domain name (for example acme, or acme--uat.sandbox).")
        return login_url_for("my_domain", my_domain)
    raise ValueError("Choose where to log in to Salesforce: production, sandbox or My Domain.")
