"""`mailferry secrets rotate`: re-seal every stored secret under the newest key of
MAILFERRY_ENCRYPTION_KEYS and say which older keys can then be removed (SPEC 14,
"Offboarding"; mailferry/secret_rotation.py does the work).

Rotating a key: put a new key first in MAILFERRY_ENCRYPTION_KEYS on every host, keeping the
old ones after it, restart every process, run this, then remove the keys it names. Run it
also once after upgrading to a release that seals email bodies: it seals the bodies stored
before in plain text. Running it again changes nothing.
"""

from __future__ import annotations

from mailferry.config import Config
from mailferry.crypto import SecretBox
from mailferry.db import make_engine
from mailferry.secret_rotation import rotate


def run(config: Config, args) -> int:
    """`args.action`: rotate (cli/main.py declares it). Exit 1 when something could not be
    re-sealed (the report says what, and that every key must stay)."""
    engine = make_engine(config.database_url)
    try:
        report = rotate(engine, SecretBox(config.encryption_keys))
    finally:
        engine.dispose()
    print("\n".join(report.lines()))
    return 0 if report.old_keys_removable else 1
