"""The wheel as an operator builds and installs it (docs/deploy.md, "Build the package"): built
from a copy of this checkout's sources with `python -m build --wheel --no-isolation`, then
installed with the pinned requirements.lock into an empty virtualenv outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from mailferry.bundled_files import BUNDLED

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
    return subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation"], cwd=sources,
                          capture_output=True, text=True, timeout=600, env=_without_python_path())


def install(wheel: Path, requirements: Path, venv: Path) -> Path:
    """A new virtualenv at `venv` holding `wheel` and its pinned dependencies; its bin folder."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300, env=_without_python_path())
    answer = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "-r", str(requirements), str(wheel)],
                            capture_output=True, text=True, timeout=900, env=_without_python_path())
    assert answer.returncode == 0, f"pip install failed:\n{answer.stdout}{answer.stderr}"
    return venv / "bin"


def _without_python_path() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
