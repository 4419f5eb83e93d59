"""Small helpers for page tests: the form's CSRF token, and elements by data-testid."""

from __future__ import annotations

import re
from html.parser import HTMLParser


def csrf_token(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


class _Finder(HTMLParser):
    def __init__(self, testid: str):
        super().__init__()
        self.testid = testid
        self.found: list[dict] = []
        self._open: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for element in self._open:
            element["depth"] += 1
        if attributes.get("data-testid") == self.testid:
            element = {"tag": tag, **attributes, "text": "", "depth": 1}
            self.found.append(element)
            if tag not in ("input", "br", "img", "rect", "line"):
                self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("data-testid") == self.testid:
            self.found.append({"tag": tag, **attributes, "text": ""})

    def handle_endtag(self, tag):
        for element in list(self._open):
            element["depth"] -= 1
            if element["depth"] == 0:
                self._open.remove(element)

    def handle_data(self, data):
        for element in self._open:
            element["text"] += " " + data


def elements(html: str, testid: str) -> list[dict]:
    """Every element with this data-testid: its attributes and its text (whitespace folded)."""
    finder = _Finder(testid)
    finder.feed(html)
    for element in finder.found:
        element["text"] = " ".join(element["text"].split())
    return finder.found


def element(html: str, testid: str) -> dict:
    found = elements(html, testid)
    assert len(found) == 1, f"{len(found)} elements with data-testid={testid}"
    return found[0]


def post_form(client, url: str, data: dict):
    """Post a form as a browser would from the page itself: with the page's CSRF token and
    a same-origin Referer (the test client speaks https, where Flask-WTF checks it)."""
    return client.post(url, data={"csrf_token": csrf_token(client, url), **data},
                       headers={"Referer": f"https://localhost{url}"})
