"""The wheel's one build step beyond setuptools' own: copy the files a checkout keeps outside
the packages (the add-in's scripts, MSAL.js, the add-in manifest) into them, so an installed
package runs with no checkout and no `node_modules` (mailferry/bundled_files.py lists them).

Everything else about the package is in pyproject.toml. Build with
`python -m build --wheel --no-isolation` after `npm ci` (docs/deploy.md).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from mailferry.bundled_files import BUNDLED, LEFT_OUT  # noqa: E402 (needs HERE on the path)


class BuildPyWithBundledFiles(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install serves the checkout's originals
            return
        for package_path, checkout_path in BUNDLED.items():
            source, target = HERE / checkout_path, Path(self.build_lib) / package_path
            if not source.exists():
                # A wheel without MSAL.js would install fine and then fail every add-in sign-in.
                raise SystemExit(f"cannot build the wheel: {checkout_path} is missing (run `npm ci` first)")
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns(*LEFT_OUT), dirs_exist_ok=True)
            else:
                shutil.copyfile(source, target)


setup(cmdclass={"build_py": BuildPyWithBundledFiles})
