"""Fixtures of the deployment tests (deploy/: the systemd units, the nginx site, the
production topology)."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of this checkout's sources, once per test session."""
    from tests.deploy.wheel import build_wheel, copy_sources

    sources = copy_sources(tmp_path_factory.mktemp("wheel-sources"))
    answer = build_wheel(sources)
    assert answer.returncode == 0, f"the wheel did not build:\n{answer.stdout[-3000:]}{answer.stderr[-3000:]}"
    (wheel,) = (sources / "dist").glob("mailferry-*.whl")
    return wheel


@pytest.fixture(scope="session")
def installed_mailferry(built_wheel, tmp_path_factory) -> Path:
    """The bin folder of an empty virtualenv outside the checkout into which the built wheel
    and requirements.lock were installed, as docs/deploy.md installs them: run its
    `mailferry` from a folder of the test's, with no checkout on the path."""
    from tests.deploy.wheel import install

    return install(built_wheel, PROJECT_ROOT / "requirements.lock", tmp_path_factory.mktemp("installed") / "venv")
