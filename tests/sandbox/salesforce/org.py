"""The small hand-built org the Salesforce sandbox tests load (so they know every record),
and signing in to it the way a person does."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from sandbox.salesforce.ids import to_18
from sandbox.world import World


def sf_id(prefix: str, n: int) -> str:
    return to_18(f"{prefix}Tt{n:010d}")


@dataclass(frozen=True)
class Org:
    """The Ids of the hand-built org's records."""

    rep = sf_id("005", 1)
    admin = sf_id("005", 2)
    acme = sf_id("001", 1)
    globex = sf_id("001", 2)
    ann = sf_id("003", 1)  # ann.ng@acme.example
    bob = sf_id("003", 2)  # o'brien\\x@acme.example (quote and backslash)
    cat = sf_id("003", 3)  # Cat.Upper@Globex.example, no account
    lena = sf_id("00Q", 1)  # open lead lena@prospect.example
    conrad = sf_id("00Q", 2)  # converted lead → ann
    deal = sf_id("006", 1)
    ticket = sf_id("500", 1)


def small_world() -> World:
    o = Org
    return World(
        seed=0, tenant_id="00000000-0000-0000-0000-000000000000", tenant_domain="example.com",
        tenant_name="Test", users=[], mails=[],
        salesforce={
            "User": [
                {"Id": o.rep, "Username": "rep@example.com.crm", "Email": "rep@example.com", "FirstName": "Rae",
                 "LastName": "Rep", "Alias": "rrep", "IsActive": True},
                {"Id": o.admin, "Username": "admin@example.com.crm", "Email": "admin@example.com",
                 "FirstName": "Ada", "LastName": "Admin", "IsActive": True},
            ],
            "Account": [
                {"Id": o.acme, "Name": "Acme", "OwnerId": o.rep},
                {"Id": o.globex, "Name": "Globex", "OwnerId": o.rep},
            ],
            "Contact": [
                {"Id": o.ann, "FirstName": "Ann", "LastName": "Ng", "Email": "ann.ng@acme.example", "AccountId": o.acme,
                 "CreatedDate": "2026-01-01T10:00:00.000+0000"},
                {"Id": o.bob, "FirstName": "Bob", "LastName": "O'Brien", "Email": "o'brien\\x@acme.example",
                 "AccountId": o.acme, "CreatedDate": "2026-01-02T10:00:00.000+0000"},
                {"Id": o.cat, "FirstName": "Cat", "LastName": "Upper", "Email": "Cat.Upper@Globex.example",
                 "CreatedDate": "2026-01-03T10:00:00.000+0000"},
            ],
            "Lead": [
                {"Id": o.lena, "FirstName": "Lena", "LastName": "Lead", "Company": "Prospect Ltd",
                 "Email": "lena@prospect.example"},
                {"Id": o.conrad, "FirstName": "Conrad", "LastName": "Verted", "Company": "Acme",
                 "Email": "ann.ng@acme.example", "IsConverted": True, "ConvertedContactId": o.ann,
                 "ConvertedAccountId": o.acme, "ConvertedDate": "2026-02-01", "Status": "Closed - Converted"},
            ],
            "Opportunity": [{"Id": o.deal, "Name": "Acme deal", "StageName": "Prospecting", "CloseDate": "2026-12-31",
                             "AccountId": o.acme}],
            "Case": [{"Id": o.ticket, "Subject": "Broken", "AccountId": o.acme, "ContactId": o.ann}],
        },
    )


def oauth_sign_in(client_session, salesforce_url: str, *, username: str = "rep@example.com.crm", state: str = "st-1",
                  scope: str = "api refresh_token id", challenge: str | None = None,
                  redirect_uri: str = "https://localhost:3000/auth/salesforce/callback",
                  client_id: str = "mailferry-client") -> dict:
    """Walk the authorize page like a person: open it, click the user, read the redirect."""
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": scope, "state": state}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    page = client_session.get(f"{salesforce_url}/services/oauth2/authorize", params=params)
    assert page.status_code == 200
    match = re.search(r'value="(005\w+)" data-testid="sf-login-user"\s+data-username="' + re.escape(username), page.text)
    assert match, page.text
    form = {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)}
    form["user_id"] = match.group(1)
    answer = client_session.post(f"{salesforce_url}/services/oauth2/authorize", data=form, allow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return {"location": location, **query}
