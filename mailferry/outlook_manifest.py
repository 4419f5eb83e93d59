"""The Outlook add-in manifest (`manifest.xml` at the repository root) for a given host.

The committed file names https://localhost:3000; `manifest_for` rewrites that origin so an
admin can deploy the add-in from any host (`mailferry manifest --base-url`, `/addin/manifest.xml`).
See docs/outlook.md.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

from mailferry.bundled_files import bundled

#: The committed manifest: at the repository root, or inside the package once installed.
MANIFEST_FILE = bundled("mailferry/outlook/manifest.xml")
DEVELOPMENT_ORIGIN = "https://localhost:3000"
#: The origin exactly, not a longer one that starts with it (https://localhost:30001).
_DEVELOPMENT_ORIGIN_PATTERN = re.compile(re.escape(DEVELOPMENT_ORIGIN) + r"(?![\w.:-])")
_ID_PATTERN = re.compile(r"<Id>([^<]+)</Id>")


class ManifestBaseUrlError(ValueError):
    """A base URL Outlook would refuse; the message names the problem and the fix."""


def add_in_origin(base_url: str) -> str:
    """`base_url` as the origin the manifest's URLs start with: https, a host, no path.

    Outlook loads add-in pages only over HTTPS, and every URL in the manifest is built from
    this origin, so a path or query here would give wrong URLs rather than a working add-in.
    """
    text = (base_url or "").strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise ManifestBaseUrlError(f"{text!r} is not a URL ({error})") from None
    if parts.scheme != "https":
        scheme = f"uses {parts.scheme}://" if parts.scheme else "has no scheme"
        raise ManifestBaseUrlError(
            f"{text!r} {scheme}: Outlook loads add-ins only over HTTPS; give https://<host>[:port]"
        )
    if not parts.hostname:
        raise ManifestBaseUrlError(f"{text!r} has no host name; give https://<host>[:port]")
    if parts.username or parts.password:
        raise ManifestBaseUrlError(f"{text!r} contains a user name or password; give https://<host>[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ManifestBaseUrlError(
            f"{text!r} has a path, query or fragment: Mailferry must be served at the root of its"
            " host, so give the origin only, e.g. https://mailferry.example.com"
        )
    host = parts.hostname  # urlsplit lower-cases it
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}" if port in (None, 443) else f"https://{host}:{port}"


def api_app_id_uri(base_url: str, client_id: str) -> str:
    """The App ID URI of Mailferry's API as Nested App Authentication requires it,
    `api://<add-in host[:port]>/<client id>` (docs/outlook.md): the add-in asks for
    `<this>/access_as_user`, and v1.0 access tokens carry it as `aud`."""
    return f"api://{add_in_origin(base_url).split('://', 1)[1]}/{client_id}"


def manifest_id_for(origin: str) -> str:
    """The add-in Id for an origin: the committed one for development, else a GUID derived
    from the origin, so a development and a production add-in can be installed side by side,
    and a manifest written again for the same host updates the add-in already installed."""
    if origin == DEVELOPMENT_ORIGIN:
        return development_id()
    return str(uuid.uuid5(uuid.UUID(development_id()), origin))


def development_id() -> str:
    match = _ID_PATTERN.search(_development_manifest())
    if match is None:  # pragma: no cover - the tests validate the committed file
        raise RuntimeError(f"{MANIFEST_FILE} has no <Id>")
    return match.group(1).strip()


def manifest_for(base_url: str) -> str:
    """The manifest with every URL on `base_url`'s origin (raises ManifestBaseUrlError)."""
    origin = add_in_origin(base_url)
    text = _development_manifest()
    if origin == DEVELOPMENT_ORIGIN:
        return text
    text = _ID_PATTERN.sub(f"<Id>{manifest_id_for(origin)}</Id>", text, count=1)
    return _DEVELOPMENT_ORIGIN_PATTERN.sub(origin, text)


def _development_manifest() -> str:
    return MANIFEST_FILE.read_text(encoding="utf-8")
