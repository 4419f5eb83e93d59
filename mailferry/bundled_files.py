"""Files a checkout keeps outside the Python packages, which the built wheel carries inside them.

In a checkout the add-in's scripts live in `addin/`, MSAL.js in `node_modules/` (from `npm
ci`) and the add-in manifest at the root. An installed package has neither a checkout nor
`node_modules`, so building the wheel (`setup.py`'s build step) copies each of them to a place
inside a package, listed once here; at run time `bundled()` answers the copy when the
package carries it, else the checkout's original (`make run`, `make test`, editable installs).

Plain paths, no imports: `setup.py` reads this table before anything is installed.
"""

from __future__ import annotations

from pathlib import Path

#: The folder holding the packages: the checkout, or site-packages once installed.
ROOT = Path(__file__).resolve().parents[1]

#: Where each file or folder goes in the wheel (relative to ROOT) -> where it is in a checkout.
BUNDLED = {
    "server/addin/front_end": "addin",
    "server/addin/vendor/msal-browser.min.js": "node_modules/@azure/msal-browser/lib/msal-browser.min.js",
    "mailferry/outlook/manifest.xml": "manifest.xml",
}

#: What a bundled folder leaves out: the checkout's notes and tools, not served.
LEFT_OUT = ("*.md", "*.py", "__pycache__")


def bundled(package_path: str) -> Path:
    """The file or folder `package_path` (a key of BUNDLED): the installed copy, else the
    checkout's original."""
    installed = ROOT / package_path
    return installed if installed.exists() else ROOT / BUNDLED[package_path]


def running_from_checkout() -> bool:
    """True in a checkout, False in an installed package (which carries every bundled copy)."""
    return not all((ROOT / package_path).exists() for package_path in BUNDLED)
