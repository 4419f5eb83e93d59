"""The Connections page tests share the security tests' stack (own database, sandboxes)."""

from tests.sandbox.conftest import (  # noqa: F401  (shared fixtures)
    microsoft, microsoft_app, salesforce, salesforce_app, sandbox_settings,
)
from tests.server.security.conftest import security_stack  # noqa: F401
