"""The Outlook add-in manifest (`manifest.xml` at the repository root) for a given host.

The committed file names https://localhost:3000; `manifest_for` rewrites that origin so an
admin can deploy the add-in from any host (`mailferry manifest --base-url`, `/addin/manifest.xml`).
"""

from __future__ import annotations

from pathlib import Path

MANIFEST_FILE = Path(__file__).resolve().parents[1] / "manifest.xml"
DEVELOPMENT_ORIGIN = "https://localhost:3000"


def manifest_for(base_url: str) -> str:
    return MANIFEST_FILE.read_text(encoding="utf-8").replace(DEVELOPMENT_ORIGIN, base_url.rstrip("/"))
