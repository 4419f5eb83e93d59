"""`make test`'s prerequisites (tests/prerequisites.sh): Chromium, axe-core and nginx, or one
line with the fix before any test runs.

The script runs as a user who is not root (`nobody`, when this runs as root) and so cannot
install anything: that is the case that must stop with the fix. The script is fed on stdin and
every file it looks at lies in a world-readable folder, so `nobody` needs no access to this
clone. Installing Chromium as root is not exercised here (it changes the machine); it was
verified by hand (`make test-prerequisites` as root without Chromium; figures in the message of
the commit that added this file), and so is installing nginx the same way.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.browser.stack import CHROMIUM, PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "tests" / "prerequisites.sh"
MISSING_CHROMIUM = "/nonexistent/chromium"
#: Debian's nginx, which the deployment tests run (`make test NGINX=...` for another).
NGINX = Path(os.environ.get("NGINX", "/usr/sbin/nginx"))
MISSING_NGINX = "/nonexistent/nginx"


@pytest.fixture
def shared():
    """A world-readable folder (pytest's own tmp folders are private to their user)."""
    folder = Path(tempfile.mkdtemp(prefix="mailferry-prerequisites-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def axe(shared) -> str:
    """A stand-in axe-core file (the script only checks that it is there)."""
    path = shared / "axe.min.js"
    path.write_text("/* axe */\n")
    path.chmod(0o644)
    return str(path)


def as_non_root() -> list[str]:
    if os.geteuid() != 0:
        return []
    nobody = pwd.getpwnam("nobody")
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run the check as nobody"
    return [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]


def check(chromium: str, axe: str, path: str = os.defpath, nginx: str = str(NGINX)) -> subprocess.CompletedProcess:
    """tests/prerequisites.sh as a user who cannot install, with PATH `path`."""
    return subprocess.run(
        [*as_non_root(), "/bin/sh", "-s", "--", chromium, axe, nginx],
        input=SCRIPT.read_text(), env={"PATH": path}, capture_output=True, text=True, timeout=60)


def only_line(result: subprocess.CompletedProcess) -> str:
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_missing_chromium_stops_with_the_install_command(axe):
    result = check(MISSING_CHROMIUM, axe)
    assert result.returncode != 0
    line = only_line(result)
    assert f"Chromium is missing at {MISSING_CHROMIUM}" in line
    assert "`sudo apt-get install chromium`" in line


def test_missing_nginx_stops_with_the_install_command(axe):
    result = check(str(CHROMIUM), axe, nginx=MISSING_NGINX)
    assert result.returncode != 0
    line = only_line(result)
    assert f"nginx is missing at {MISSING_NGINX}" in line
    assert "`sudo apt-get install nginx`" in line


def test_everything_there_passes_silently(axe):
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make test` installs it (or says how)"
    assert NGINX.exists(), f"{NGINX} is missing: `make test` installs it (or says how)"
    result = check(str(CHROMIUM), axe)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_missing_axe_core_with_npm_says_npm_ci(shared):
    npm = shutil.which("npm")
    assert npm, "npm is missing: `make test` needs it (the message it prints is the next test)"
    result = check(str(CHROMIUM), str(shared / "axe.min.js"), path=f"{Path(npm).parent}:{os.defpath}")
    assert result.returncode != 0
    line = only_line(result)
    assert f"axe-core is missing at {shared / 'axe.min.js'}" in line
    assert "`npm ci`" in line


def test_missing_axe_core_without_npm_says_how_to_install_npm(shared):
    bin_dir = shared / "bin"  # only `id`: no npm on this PATH
    bin_dir.mkdir(mode=0o755)
    (bin_dir / "id").symlink_to(shutil.which("id"))
    result = check(str(CHROMIUM), str(shared / "axe.min.js"), path=str(bin_dir))
    assert result.returncode != 0
    line = only_line(result)
    assert "axe-core is missing" in line
    assert "install Node.js and npm (on Debian: `sudo apt-get install npm`)" in line


def make_test_stopped(variable: str) -> str:
    """`make test VARIABLE`, which must stop before the suite: its standard error.

    Run as this user (root in CI): a CHROMIUM or NGINX other than Debian's path is never
    installed, so even root gets the message. PYTEST_ARGS is harmless should the check ever
    let it through."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(PROJECT_ROOT), "test", variable,
         "PYTEST_ARGS=--collect-only -q tests/test_config.py"],
        env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0, result.stdout
    assert "pytest" not in result.stdout + result.stderr, result.stdout  # the suite never started
    return result.stderr


def test_make_test_stops_before_the_suite_without_chromium():
    """The real Makefile: the check is a prerequisite of `test`, so pytest never starts."""
    stderr = make_test_stopped(f"CHROMIUM={MISSING_CHROMIUM}")
    assert f"Chromium is missing at {MISSING_CHROMIUM}" in stderr
    assert "apt-get install chromium" in stderr


def test_make_run_does_not_need_chromium():
    """`make run` must keep working without Chromium: the check is not among its prerequisites."""
    result = subprocess.run(["make", "-C", str(PROJECT_ROOT), "-n", "run", f"CHROMIUM={MISSING_CHROMIUM}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "prerequisites.sh" not in result.stdout
    assert "prerequisites.sh" in subprocess.run(
        ["make", "-C", str(PROJECT_ROOT), "-n", "test"], capture_output=True, text=True, timeout=60).stdout


def test_make_test_stops_before_the_suite_without_nginx():
    stderr = make_test_stopped(f"NGINX={MISSING_NGINX}")
    assert f"nginx is missing at {MISSING_NGINX}" in stderr
    assert "apt-get install nginx" in stderr
