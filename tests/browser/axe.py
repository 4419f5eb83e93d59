"""Accessibility checks with axe-core (pinned in package.json, installed by `make install`)."""

from __future__ import annotations

import pytest

from tests.browser.stack import AXE_SCRIPT


def assert_accessible(page, *, context: str | None = None) -> None:
    """axe-core on the current page: no serious or critical violation.

    axe is evaluated through the DevTools protocol rather than `add_script_tag`: a script tag
    with the file's text inline would be (rightly) refused by our CSP, and loosening the CSP
    for tests would hide real violations.
    """
    if not AXE_SCRIPT.exists():
        pytest.fail(f"{AXE_SCRIPT} is missing: run `make install` (it runs `npm ci`; needs Node.js and npm)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate(
        "async (selector) => await axe.run(selector || document, {resultTypes: ['violations']})", context)
    bad = [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in bad)
    assert not bad, f"axe-core found serious/critical violations on {page.url}:\n{report}"
