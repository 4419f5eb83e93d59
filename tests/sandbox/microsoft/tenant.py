"""The hand-made tenant the Microsoft sandbox tests load (so they do not depend on the demo
seed: `make_world()`, its users and constants), and signing in as its users the way a person
and real msal do. The `microsoft_url` fixture (tests/sandbox_fixtures.py) loads it."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import jwt
import msal

from mailferry.tls import https_session
from sandbox.world import Address, DemoUser, MailSpec, World
from tests.config_fixtures import DEMO

TENANT = "7d3f1a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
DOMAIN = "contoso-test.com"
ALICE = DemoUser(oid="a11ce000-0000-4000-8000-000000000001", upn=f"alice@{DOMAIN}",
                 display_name="Alice Archer", given_name="Alice", surname="Archer",
                 aliases=(f"a.archer@{DOMAIN}",))
BOB = DemoUser(oid="b0b00000-0000-4000-8000-000000000002", upn=f"bob@{DOMAIN}",
               display_name="Bob Baker", given_name="Bob", surname="Baker")
REDIRECT_URI = "https://localhost:3000/auth/microsoft/callback"
START = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone.utc)
INBOX_COUNT = 15


def make_world() -> World:
    customer = Address("carol@customer.example", "Carol Customer")
    mails = [
        MailSpec(user_upn=ALICE.upn, folder="inbox", sender=customer, to=(Address(ALICE.upn, ALICE.display_name),),
                 cc=(Address("dave@customer.example", "Dave"),), subject=f"Quote {n}",
                 body_text=f"Hello Alice,\nquote number {n} attached.\n<b>not html</b>",
                 received=START + dt.timedelta(days=n), internet_message_id=f"<quote-{n}@customer.example>",
                 conversation_key="quotes" if n < 3 else "", categories=("CRM",) if n % 5 == 0 else (),
                 is_read=n % 2 == 0)
        for n in range(INBOX_COUNT)
    ]
    mails += [
        MailSpec(user_upn=ALICE.upn, folder="sentitems", sender=Address(ALICE.upn, ALICE.display_name),
                 to=(customer,), bcc=(Address("archive@contoso-test.com"),), subject=f"Re: Quote {n}",
                 body_text="Thanks!", received=START + dt.timedelta(days=n, hours=2))
        for n in range(3)
    ]
    mails.append(MailSpec(user_upn=BOB.upn, folder="inbox", sender=None, to=(Address(BOB.upn),),
                          subject="No sender", body_text="", received=START))
    return World(seed=0, tenant_id=TENANT, tenant_domain=DOMAIN, tenant_name="Contoso Test",
                 users=[ALICE, BOB], mails=mails, salesforce={})


def msal_app(url: str, session, client_id: str = DEMO.microsoft_client_id,
             secret: str = DEMO.microsoft_client_secret):
    """A real msal ConfidentialClientApplication pointed at the sandbox (docs/sandbox.md, Microsoft 365)."""
    return msal_app_at(url, session, TENANT, client_id, secret)


class _Form(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.users: dict[str, str] = {}  # upn → value

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden":
            self.hidden[attrs["name"]] = attrs.get("value", "")
        if tag == "button" and attrs.get("name") == "user":
            self.users[attrs["data-upn"]] = attrs["value"]


def parse_sign_in_page(html: str) -> _Form:
    form = _Form()
    form.feed(html)
    return form


def pick_user(session, auth_uri: str, upn: str) -> dict:
    """What a person does on the sign-in page: open it, click their name; returns the
    parameters the sandbox sends back to the redirect URI."""
    page = session.get(auth_uri)
    assert page.status_code == 200, page.text
    form = parse_sign_in_page(page.text)
    answer = session.post(auth_uri, data={**form.hidden, "user": form.users[upn]}, allow_redirects=False)
    if answer.status_code == 200:  # response_mode=form_post: the page a browser would auto-submit
        return parse_sign_in_page(answer.text).hidden
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def sign_in(url: str, session, upn: str = ALICE.upn, scopes=("Mail.ReadWrite", "MailboxSettings.ReadWrite")):
    """Full authorization-code flow with PKCE through real msal; returns (msal app, result)."""
    app = msal_app(url, session)
    flow = app.initiate_auth_code_flow(list(scopes), redirect_uri=REDIRECT_URI, response_mode="form_post")
    result = app.acquire_token_by_auth_code_flow(flow, pick_user(session, flow["auth_uri"], upn))
    assert "access_token" in result, result
    return app, result


def bearer_session(certs, token: str):
    session = https_session(certs.ca_cert)
    session.headers["Authorization"] = f"Bearer {token}"
    return session


#: A single-tenant registration in the hand-made tenant (sign-in audience AzureADMyOrg).
SINGLE = {"client_id": "51a91e00-0000-4000-8000-00000000a11e", "client_secret": "single-secret",
          "display_name": "Contoso only", "sign_in_audience": "AzureADMyOrg"}
#: The demo app's own API, as the add-in asks for it.
API = f"api://localhost:3000/{DEMO.microsoft_client_id}"


def msal_app_at(url, session, tenant, client_id=DEMO.microsoft_client_id, secret=DEMO.microsoft_client_secret):
    """Real msal's confidential client at the sandbox's authority for `tenant` (an id, a
    domain, `organizations` or `common`)."""
    return msal.ConfidentialClientApplication(client_id, client_credential=secret, authority=f"{url}/{tenant}",
                                              instance_discovery=False, azure_region=False, http_client=session)


def token_claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})
