"""The shipped systemd units (deploy/systemd/): systemd itself accepts them, each runs a
command the installed `mailferry` accepts, and each gets the shared account and hardening."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.deploy import deploy_doc
from tests.deploy.units import SERVICES, UNITS_DIR, install_into_root, mailferry_arguments, unit_section

DROP_IN = "mailferry-.service.d/common.conf"


def install_as_the_doc_does(root, mailferry):
    """The host of units.install_into_root (the system's own units, `mailferry` where the
    units run it) under `root`, its units copied by docs/deploy.md's own `cp -r` from the
    checkout; the folder they are in."""
    system = install_into_root(root, mailferry)
    shutil.rmtree(system)
    system.mkdir()
    line = deploy_doc.rewrite(deploy_doc.command("cp -r deploy/systemd/"), {"/etc/systemd/system": str(system)})
    deploy_doc.run(line, UNITS_DIR.parents[1])
    return system


def verify(system_dir, *units: str) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "verify", f"--root={system_dir.parents[2]}", *units],
                          cwd=system_dir, capture_output=True, text=True, timeout=120)


def test_systemd_analyze_verify_accepts_every_unit(tmp_path, installed_mailferry):
    """docs/deploy.md's `systemd-analyze verify` line on the units its `cp -r` installed, with
    --root: the test's folder standing for the host's /."""
    system = install_as_the_doc_does(tmp_path, installed_mailferry / "mailferry")
    line = deploy_doc.with_program(deploy_doc.command("systemd-analyze verify"), "systemd-analyze",
                                   f"systemd-analyze --root={tmp_path}")
    answer = deploy_doc.run(line, system, check=False, timeout=120)
    # verify exits 0 even when it ignores a bad line; only its silence means every line took.
    assert (answer.returncode, answer.stdout + answer.stderr) == (0, "")


def test_verify_fails_when_the_executable_is_missing(tmp_path, installed_mailferry):
    """The check above is worth something: verify does look for the ExecStart command."""
    system = install_into_root(tmp_path, installed_mailferry / "mailferry")
    (tmp_path / "opt/mailferry/venv/bin/mailferry").unlink()
    answer = verify(system, "mailferry-scheduler.service")
    assert answer.returncode != 0 and "/opt/mailferry/venv/bin/mailferry" in answer.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_the_shared_drop_in_applies_to_the_service(tmp_path, installed_mailferry, service):
    """User, EnvironmentFile, Restart and the hardening live once, in mailferry-.service.d/:
    a line systemd cannot read there is reported for every service, so each one reads it."""
    system = install_into_root(tmp_path, installed_mailferry / "mailferry")
    with open(system / DROP_IN, "a") as drop_in:
        drop_in.write("NotASetting=1\n")
    answer = verify(system, service.replace("@.", "@1."))
    assert f"{DROP_IN}:" in answer.stderr and "Unknown key 'NotASetting'" in answer.stderr


def test_every_service_runs_as_mailferry_hardened_writing_only_the_data_folder():
    common = unit_section(DROP_IN, "Service")
    assert (common["User"], common["Group"]) == ("mailferry", "mailferry")
    assert common["EnvironmentFile"] == "/etc/mailferry/mailferry.env"
    assert common["Restart"] == "on-failure"
    assert {k: common[k] for k in ("NoNewPrivileges", "ProtectSystem", "PrivateTmp", "ProtectHome")} == {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes", "ProtectHome": "yes"}
    assert common["ReadWritePaths"] == "/var/lib/mailferry"
    for service in SERVICES:
        assert unit_section(service, "Install")["WantedBy"] == "mailferry.target"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_a_command_mailferry_accepts(installed_mailferry, service):
    """Run the unit's command with a production environment missing its settings: the
    command line is accepted (argparse would stop first, with a usage line) and start-up
    stops at the configuration instead."""
    env = {"PATH": os.environ["PATH"], "MAILFERRY_ENV": "production", "MAILFERRY_DATA_DIR": "/nonexistent"}
    answer = subprocess.run([installed_mailferry / "mailferry", *mailferry_arguments(service)], env=env,
                            capture_output=True, text=True, timeout=60, cwd="/")
    assert "usage:" not in answer.stderr, answer.stderr
    assert answer.returncode == 2 and "Configuration error" in answer.stderr, answer.stderr
