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


NOT_SALESFORCE = (
    "{host} is not a Salesforce login host, so Mailferry will not send its sign-in there. Use your org's "
    "My Domain (for example acme, or acme--uat.sandbox, for acme.my.salesforce.com), production or sandbox; "
    "if your org signs in on another host, ask your Mailferry admin to allow it (SALESFORCE_ALLOWED_HOSTS)."
)


def chosen_login_url(config: Config, kind: str, my_domain: str | None) -> str:
    """The login URL for the form's choice; ValueError (with a message for people) when the
    choice or the My Domain name is not valid, or names a host that is not Salesforce's
    (`Config.salesforce_hosts`): the consumer secret goes to this host at the callback."""
    if kind == "configured":
        return config.salesforce_login_url
    if kind == "sandbox":
        return login_url_for("sandbox")
    if kind != "my_domain":
        raise ValueError("Choose where to log in to Salesforce: production, sandbox or My Domain.")
    if not (my_domain or "").strip():
        raise ValueError("Enter your My Domain name (for example acme, or acme--uat.sandbox).")
    if len(my_domain) > 255:
        raise ValueError("That My Domain name is too long: enter the name only, for example acme.")
    url = config.salesforce_hosts.login_url(login_url_for("my_domain", my_domain))
    if url is None:
        raise ValueError(NOT_SALESFORCE.format(host=repr(my_domain.strip())))
    return url
