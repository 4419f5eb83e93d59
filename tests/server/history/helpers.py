"""Reading the Sync History pages in tests: rows, counts and the CSRF token, from HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: The Salesforce instance of the history user's connection (`history_world`).
INSTANCE = "https://acme.my.salesforce.example"


def csrf_token(client) -> str:
    page = client.get("/ignore-list").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def row_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-testid="history-row" data-id="(\d+)"', html)]


def count(html: str, tab: str) -> int:
    return int(re.search(rf'data-testid="count-{tab}">(\d+)<', html).group(1))


class _Links(HTMLParser):
    def __init__(self, testid: str):
        super().__init__()
        self.testid, self.found = testid, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("data-testid") == self.testid:
            self.found.append(attrs)


def elements(html: str, testid: str) -> list[dict]:
    """Attributes (entities decoded, as a browser reads them) of elements with this testid."""
    parser = _Links(testid)
    parser.feed(html)
    return parser.found
