"""The wheel as an operator builds and installs it (docs/deploy.md, "The package"), with the
document's own commands (tests/deploy/deploy_doc.py): built from a copy of this checkout's
sources, then copied with requirements.lock to a folder standing for the host and installed
from there into an empty virtualenv outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from mailferry.bundled_files import BUNDLED
from tests.deploy import deploy_doc

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def copy_sources(destination: Path, *, bundled_sources: bool = True) -> Path:
    """The files git would commit (tracked, or new and not ignored) as they are in the working
    tree, plus the bundled files' originals git ignores (MSAL.js in node_modules) unless
    `bundled_sources` is False: a clean clone after `npm ci`, with no .venv, data or build."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=PROJECT_ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    extra = [path for path in BUNDLED.values() if (PROJECT_ROOT / path).is_file()] if bundled_sources else []
    for relative in filter(None, [*listed, *extra]):
        source = PROJECT_ROOT / relative
        if source.is_file():  # a file deleted in the working tree is still listed
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / relative)
    return destination


def build_wheel(sources: Path) -> subprocess.CompletedProcess:
    """The document's build command in `sources` (a copy has no .venv: this interpreter's)."""
    line = deploy_doc.with_program(deploy_doc.command("-m build --wheel"), ".venv/bin/python", sys.executable)
    return deploy_doc.run(line, sources, _without_python_path(), check=False, timeout=600)


def install(wheel: Path, requirements: Path, venv: Path) -> Path:
    """A new virtualenv at `venv` holding `wheel` and its pinned dependencies, made by the
    document's commands in a folder holding the two files as copied to the host; its bin folder."""
    host = venv.parent / "copied-to-the-host"
    host.mkdir()
    for copied in (wheel, requirements):
        shutil.copy2(copied, host / copied.name)
    places = {"/opt/mailferry/venv": str(venv)}
    for line in (deploy_doc.command("python3 -m venv"), deploy_doc.command("bin/pip install -r")):
        deploy_doc.run(deploy_doc.rewrite(line, places), host, _without_python_path(), timeout=900)
    return venv / "bin"


def _without_python_path() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
