"""An app built from a test configuration (`make_config`): a migrated test database and the
test Redis."""

from __future__ import annotations

import pytest

from server import create_app


@pytest.fixture
def app(make_config):
    return create_app(make_config())
