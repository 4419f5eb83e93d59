"""Fixtures of the deployment tests (deploy/: the systemd units, the nginx site, the
production topology)."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def mailferry_bin(request) -> Path:
    """The bin folder whose `mailferry` the deployment tests run: the virtualenv made from the
    built wheel (`installed_mailferry`) once that fixture exists, the checkout's .venv until
    then. The one switch between the two."""
    try:
        return Path(request.getfixturevalue("installed_mailferry"))
    except pytest.FixtureLookupError:
        return PROJECT_ROOT / ".venv" / "bin"
