"""Whether this host reaches what a production deployment talks to, over HTTPS verified with
the outbound CA (`config.client_ca_file`: MAILFERRY_CLIENT_CA_FILE, else certifi's public
CAs), and why not: the checks `mailferry doctor` runs in production.

`smtp_server` reaches the SMTP server of MAILFERRY_SMTP_URL when one is set.

Each check returns None when reached, else one line naming the host, the failure (a TLS
verification failure as such) and the fix.
"""

from __future__ import annotations

import smtplib
import ssl
from urllib.parse import urlsplit

import requests

from mailferry.config import Config
from mailferry.tls import https_session
from worker import alert_email

TIMEOUT_S = 10
# An SMTP server greets at once; a slow one holds doctor's other checks up.
SMTP_TIMEOUT_S = 5


def entra_discovery(config: Config) -> str | None:
    """The OpenID configuration of the configured authority and tenant: JSON with an issuer."""
    url = f"{config.microsoft_authority_host}/{config.microsoft_tenant}/v2.0/.well-known/openid-configuration"
    response, problem = _get(config, url)
    if problem:
        return problem
    if response.status_code != 200 or not isinstance(_json(response), dict) or not _json(response).get("issuer"):
        return (f"{url} answered HTTP {response.status_code} without an OpenID configuration (no issuer): check "
                "MICROSOFT_AUTHORITY_HOST and MICROSOFT_TENANT (your tenant id, a verified domain, or organizations)")
    return None


def graph(config: Config) -> str | None:
    """Microsoft Graph: any HTTP answer (401 without a token is Graph's) counts as reached."""
    return _get(config, config.microsoft_graph_url)[1]


def salesforce_login(config: Config) -> str | None:
    """The Salesforce login host: any HTTP answer counts as reached."""
    return _get(config, config.salesforce_login_url)[1]


def public_base_url(config: Config) -> str | None:
    """MAILFERRY_BASE_URL/healthz, as users and Microsoft's webhooks reach it: Mailferry's
    liveness answer (`{"status": "ok"}`). Readiness (workers, scheduler) is /readyz's, which
    the operator's load balancer watches; reaching the URL is what only doctor can tell."""
    url = f"{config.base_url}/healthz"
    response, problem = _get(config, url)
    if problem:
        return problem
    health = _json(response)
    if response.status_code != 200 or not isinstance(health, dict) or health.get("status") != "ok":
        return (f"{url} answered HTTP {response.status_code}, not Mailferry's health: MAILFERRY_BASE_URL must be "
                "where this deployment is served (and the reverse proxy must pass /healthz to Mailferry)")
    return None


def _get(config: Config, url: str) -> tuple[requests.Response | None, str | None]:
    with https_session(config.client_ca_file) as session:
        try:
            return session.get(url, timeout=TIMEOUT_S, allow_redirects=False), None
        except requests.RequestException as error:
            return None, _failure(config, url, error)


def smtp_server(config: Config) -> str | None:
    """MAILFERRY_SMTP_URL's server, where alert emails go (worker/alert_email.py): it greets
    and answers EHLO within SMTP_TIMEOUT_S, and with `starttls=yes` upgrades to TLS verified
    with the outbound CA, as the workers' alert emails do. Nothing is sent, no login tried."""
    server = config.smtp
    where = f"{server.host}:{server.port}"
    try:
        with alert_email.connected(server, config.client_ca_file, SMTP_TIMEOUT_S) as smtp:
            smtp.ehlo()
    except ssl.SSLCertVerificationError as error:
        return _tls_failure(config, where, error.verify_message)
    except ssl.SSLError as error:
        return _tls_failure(config, where, type(error).__name__)
    except smtplib.SMTPNotSupportedError:
        return (f"{where} does not offer STARTTLS, which MAILFERRY_SMTP_URL asks for (starttls=yes): use the "
                "server's submission port that does (usually 587)")
    except smtplib.SMTPException as error:  # it answered, but not as a mail server that takes us
        return f"{where}: the SMTP server refused ({type(error).__name__}: {error}): check MAILFERRY_SMTP_URL"
    except TimeoutError:
        return _no_answer(where, SMTP_TIMEOUT_S)
    except OSError as error:
        return _unreachable(where, error.strerror or type(error).__name__)
    return None


def _failure(config: Config, url: str, error: requests.RequestException) -> str:
    host = urlsplit(url).netloc
    verification = _cause(error, ssl.SSLCertVerificationError)
    if verification is not None or isinstance(error, requests.exceptions.SSLError):
        reason = verification.verify_message if verification is not None else type(_cause(error, ssl.SSLError)
                                                                                    or error).__name__
        return _tls_failure(config, host, reason)
    if isinstance(error, requests.Timeout):
        return _no_answer(host, TIMEOUT_S)
    refused = _cause(error, OSError)
    return _unreachable(host, (refused.strerror if refused is not None and refused.strerror else None)
                        or type(error).__name__)


def _tls_failure(config: Config, host: str, reason: str) -> str:
    trusted = (f"the CA bundle MAILFERRY_CLIENT_CA_FILE={config.outbound_ca_file}" if config.outbound_ca_file
               else "the public CAs (MAILFERRY_CLIENT_CA_FILE is unset)")
    return (f"{host}: TLS verification failed ({reason}) against {trusted}: when a proxy inspects TLS or the host "
            "has a private CA, set MAILFERRY_CLIENT_CA_FILE to a PEM bundle holding that CA")


def _no_answer(host: str, seconds: int) -> str:
    return f"{host}: no answer within {seconds} s: check the firewall and any outbound proxy"


def _unreachable(host: str, reason: str) -> str:
    return f"{host}: cannot connect ({reason}): check the host name, the firewall and any outbound proxy"


def _cause(error: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of `kind` in what `error` wraps (requests nests urllib3's errors,
    which nest the socket's, in args, `reason` and causes)."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind) and current is not error:
            return current
        pending += [item for item in (*current.args, getattr(current, "reason", None), current.__cause__,
                                      current.__context__) if isinstance(item, BaseException)]
    return None


def _json(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return None
