"""Links into Salesforce Lightning Experience (reference salesforce.md 3.5): a record's page,
and the New Contact / New Lead form prefilled with an address and the name parsed from
its display name (Create Contact / Create Lead in the Sync History).

`defaultFieldValues` is `Field=Value` pairs joined by `,`, keys sorted as Salesforce's own
encoder does, each key and value percent-encoded as JavaScript's `encodeURIComponent`
would, so a comma, `=`, `+`, `&` or quote inside a name stays inside its value. The string
is placed in the query once-encoded, like the hand-built links of Salesforce's custom
buttons.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from mailferry.addresses import split_display_name

#: What encodeURIComponent leaves as is, besides letters and digits.
_URI_COMPONENT_SAFE = "-_.!~*'()"
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
CREATABLE = ("Contact", "Lead")
VIEWABLE = ("Contact", "Lead", "Account", "Opportunity", "Case", "Task")


def instance_base(instance_url: str | None) -> str | None:
    """The org's https origin, or None when the URL is missing or not a plain https URL
    (so a bad stored value can never become a `javascript:` link)."""
    if not instance_url:
        return None
    parts = urlsplit(instance_url.strip())
    if parts.scheme != "https" or not parts.netloc or any(c in parts.netloc for c in "\"'<> \\"):
        return None
    return f"https://{parts.netloc}"


def encode_component(value: str) -> str:
    return quote(value, safe=_URI_COMPONENT_SAFE)


def default_field_values(fields: dict[str, str]) -> str:
    """`Field=Value,…` with keys sorted and empty values left out."""
    return ",".join(
        f"{encode_component(key)}={encode_component(value)}" for key, value in sorted(fields.items()) if value
    )


def new_record_fields(address: str, display_name: str | None) -> dict[str, str]:
    """Email, FirstName and LastName for a new Contact or Lead (LastName is required, so
    the address's local part stands in when there is no usable display name)."""
    name = split_display_name(display_name, address)
    return {"Email": address, "FirstName": name.first, "LastName": name.last}


def new_record_url(instance_url: str | None, sobject: str, address: str, display_name: str | None) -> str | None:
    """The New Contact / New Lead page prefilled for `address`, or None without an org."""
    base = instance_base(instance_url)
    if base is None or sobject not in CREATABLE:
        return None
    values = default_field_values(new_record_fields(address, display_name))
    return f"{base}/lightning/o/{sobject}/new?defaultFieldValues={values}"


def record_url(instance_url: str | None, sobject: str, record_id: str | None) -> str | None:
    """A record's Lightning page, or None when the org, the type or the id is not usable."""
    base = instance_base(instance_url)
    if base is None or sobject not in VIEWABLE or not record_id or not _RECORD_ID.match(record_id):
        return None
    return f"{base}/lightning/r/{sobject}/{record_id}/view"
