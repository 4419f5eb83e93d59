"""The shipped systemd units (deploy/systemd/): systemd itself accepts them, each runs a
command the installed `mailferry` accepts, and each gets the shared account and hardening."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from dotenv import dotenv_values

from mailferry.config import SECRET_KEY_MIN_LENGTH, load_config
from tests.deploy import deploy_doc
from tests.deploy.units import ENV_EXAMPLE, SERVICES, UNITS_DIR, install_into_root, mailferry_arguments, unit_section

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


def test_the_metrics_folder_of_the_shipped_settings_is_one_the_hardened_services_may_write():
    """ProtectSystem=strict leaves only ReadWritePaths writable, and every process writes its
    Prometheus samples to PROMETHEUS_MULTIPROC_DIR (mailferry/metrics_folder.py): the folder
    the configuration makes of deploy/mailferry.env.example (by default `metrics/` in its
    MAILFERRY_DATA_DIR) lies inside it, as does the data folder itself."""
    shipped = dotenv_values(ENV_EXAMPLE)
    assert "PROMETHEUS_MULTIPROC_DIR" not in shipped  # the default, inside the data folder
    config = load_config({"MAILFERRY_DATA_DIR": shipped["MAILFERRY_DATA_DIR"],
                          # Given, so that loading writes no generated secret into the folder.
                          "MAILFERRY_SECRET_KEY": "k" * SECRET_KEY_MIN_LENGTH,
                          "MAILFERRY_ENCRYPTION_KEYS": Fernet.generate_key().decode()}, read_dotenv=False)
    writable = Path(unit_section(DROP_IN, "Service")["ReadWritePaths"])
    assert config.data_dir == writable, (config.data_dir, writable)
    assert config.metrics_dir.is_relative_to(writable), (config.metrics_dir, writable)
