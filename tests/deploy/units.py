"""The shipped systemd units (deploy/systemd/) as the tests read them: each unit's file and
its ExecStart, and a root folder holding them where `systemd-analyze verify --root` finds them."""

from __future__ import annotations

import configparser
import shlex
import shutil
from pathlib import Path

UNITS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
#: The environment file the host starts from (docs/deploy.md, "Configuration and secrets").
ENV_EXAMPLE = UNITS_DIR.parent / "mailferry.env.example"
#: Where the units expect the virtualenv (docs/deploy.md installs the wheel there).
VENV_BIN = Path("/opt/mailferry/venv/bin")
SERVICES = ("mailferry-web@.service", "mailferry-worker@.service", "mailferry-scheduler.service")


def unit_section(unit: str, section: str) -> dict[str, str]:
    """One section of a unit file (keys as written; systemd's keys are case-sensitive)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(UNITS_DIR / unit)
    return dict(parser[section])


def mailferry_arguments(unit: str, instance: str = "1") -> list[str]:
    """The arguments a service gives `mailferry`, its instance name filled in for `%i`."""
    command = shlex.split(unit_section(unit, "Service")["ExecStart"].replace("%i", instance))
    assert Path(command[0]) == VENV_BIN / "mailferry", command
    return command[1:]


def install_into_root(root: Path, mailferry: Path) -> Path:
    """Lay the units out under `root` as on a host (in /etc/systemd/system, the system's own
    units beside them for sysinit.target and friends) with `mailferry` copied to the path
    their ExecStart names; returns the folder the units are in."""
    system = root / "etc" / "systemd" / "system"
    shutil.copytree(UNITS_DIR, system)
    shutil.copytree("/usr/lib/systemd/system", root / "usr" / "lib" / "systemd" / "system", symlinks=True)
    bin_dir = root / VENV_BIN.relative_to("/")
    bin_dir.mkdir(parents=True)
    # verify checks that the command exists inside the root, so a copy (not a symlink,
    # which would resolve against the root) of the real executable.
    shutil.copy2(mailferry, bin_dir / "mailferry")
    return system
