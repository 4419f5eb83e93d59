"""docs/deploy.md's commands are the tests' own (issue 15: "every command in it is run by the
topology test or another test"). Each command line of its ```sh blocks is one of:

- RUN: the file named below takes the line from the document (`deploy_doc.command(fragment)`)
  and runs it with `sh -c`, only its host paths and example names replaced by the test's, in
  the test named beside it; a command changed in the document is the command that test runs.
- host-only: it needs a Debian host with systemd as PID 1 or system accounts, which this
  shared machine cannot give (PID 1 is not systemd; the tests run as root and create no
  accounts and change nothing of /etc). One test below per such command says why in its
  docstring, checks what can be checked of it here, and names the test covering what the
  command does.

A command of the document in neither list fails test_every_command_is_run_or_host_only.
"""

from __future__ import annotations

import grp
import importlib
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from dotenv import dotenv_values
from sqlalchemy.engine import make_url

from mailferry.config import SECRET_KEY_MIN_LENGTH
from tests.deploy import deploy_doc
from tests.deploy.topology import generated_secret
from tests.deploy.units import ENV_EXAMPLE, UNITS_DIR, unit_section

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[1]
#: The tests named below ("module::name").
TOPOLOGY = "tests.deploy.test_production_topology::"
TOPOLOGY_UP = f"{TOPOLOGY}test_a_db_upgrade_then_every_process_is_up"
BACKUP = f"{TOPOLOGY}test_h_a_backup_restores_the_connections_only_with_the_encryption_keys"
WHEEL = "tests.deploy.test_wheel::"
INSTALLED = f"{WHEEL}test_the_installed_package_serves_every_page_with_no_checkout"
NGINX_SITE = "tests.deploy.test_nginx_site::"
NGINX_T = f"{NGINX_SITE}test_nginx_accepts_the_shipped_site"
THROUGH_NGINX = f"{NGINX_SITE}test_both_web_processes_serve_through_tls_for_the_public_name"
SYSTEMD = "tests.deploy.test_systemd_units::"
VERIFY = f"{SYSTEMD}test_systemd_analyze_verify_accepts_every_unit"
THIS = f"{__name__}::"
ADMIN_FROM_THE_SHELL = "test_m_the_first_admin_granted_from_the_shell_is_listed_and_sees_the_admin_pages"

#: fragment of the command -> (the file of tests/deploy/ taking it from the document, the test running it)
RUN: dict[str, tuple[str, str]] = {
    "-m build --wheel": ("wheel.py",
                         f"{WHEEL}test_the_wheel_carries_templates_static_files_the_add_ins_scripts_and_msal_js"),
    "python3 -m venv": ("wheel.py", INSTALLED),
    "bin/pip install -r": ("wheel.py", INSTALLED),
    "secrets.token_urlsafe": ("topology.py", f"{THIS}test_the_secret_commands_print_a_session_key_and_a_fernet_key"),
    "Fernet.generate_key": ("topology.py", BACKUP),
    "mailferry db upgrade": ("topology.py", TOPOLOGY_UP),
    "cp -r deploy/systemd/": ("test_systemd_units.py", VERIFY),
    "systemd-analyze verify": ("test_systemd_units.py", VERIFY),
    "cp deploy/nginx/mailferry.conf": ("nginx_site.py", NGINX_T),
    "ln -s ../sites-available/mailferry": ("nginx_site.py", NGINX_T),
    "nginx -t": ("nginx_site.py", NGINX_T),
    "mailferry doctor --proxy": ("test_production_topology.py", f"{TOPOLOGY}test_i_doctor_finds_nothing_to_fix"),
    "mailferry admin grant": ("test_production_topology.py", f"{TOPOLOGY}{ADMIN_FROM_THE_SHELL}"),
    "mailferry admin list": ("test_production_topology.py", f"{TOPOLOGY}{ADMIN_FROM_THE_SHELL}"),
    "mailferry manifest": ("test_production_topology.py",
                           f"{TOPOLOGY}test_g_the_add_in_manifest_is_written_for_the_public_url"),
    "bin/pip install --upgrade": ("test_deploy_doc.py",
                                  f"{THIS}test_the_upgrades_pip_line_installs_over_the_installed_package"),
    "pg_dump": ("test_production_topology.py", BACKUP),
    "pg_restore": ("test_production_topology.py", BACKUP),
}
#: fragment of the command -> the test covering what it does; filled by @host_only below.
HOST_ONLY: dict[str, str] = {}


def host_only(fragment: str, *, covered_by: str):
    """Marks a test as the one for a host-only command; its `line` fixture is the command."""
    def register(test):
        test.host_only = (fragment, covered_by)
        HOST_ONLY[fragment] = covered_by
        return test
    return register


def resolve(reference: str):
    """The test (or fixture helper) a "module::name" reference names."""
    module, name = reference.split("::")
    return getattr(importlib.import_module(module), name, None)


@pytest.fixture
def line(request) -> str:
    """The host-only test's command, once the test said to cover it is there."""
    fragment, covered_by = request.function.host_only
    assert callable(resolve(covered_by)), f"{covered_by}, which covers `{fragment}`, does not exist"
    return deploy_doc.command(fragment)


# -- the document and the two lists -----------------------------------------------------------

def unlisted(commands: list[deploy_doc.Command]) -> list[str]:
    """The commands in neither list, or matched by more than one of its fragments."""
    found = []
    for command in commands:
        listed = [fragment for fragment in (*RUN, *HOST_ONLY) if fragment in command.text]
        if len(listed) != 1:
            found.append(f"section {command.section!r}: `{command.text}` (matches {listed or 'nothing'})")
    return found


def test_every_command_is_run_or_host_only():
    unlisted_commands = unlisted(deploy_doc.commands())
    assert not unlisted_commands, (
        "docs/deploy.md has commands that no test runs or lists as host-only; for each, make a test run it "
        "(deploy_doc.command(fragment) in the test's code) and add it to RUN, or add a @host_only test saying "
        "why it cannot run here, in tests/deploy/test_deploy_doc.py:\n" + "\n".join(unlisted_commands))


def test_a_command_added_to_the_document_is_in_neither_list():
    added = deploy_doc.commands("## 15. New\n```sh\nsystemctl kill mailferry-web@1\nnginx -t\n```\n")
    assert unlisted(added) == ["section '15. New': `systemctl kill mailferry-web@1` (matches nothing)"]


@pytest.mark.parametrize("fragment", RUN)
def test_each_run_command_is_taken_from_the_document_by_its_test(fragment):
    where, test = RUN[fragment]
    deploy_doc.command(fragment)  # one command of the document
    source = (HERE / where).read_text()
    assert f'command("{fragment}")' in source, f"{where} no longer takes `{fragment}` from docs/deploy.md"
    assert callable(resolve(test)), f"{test}, which runs `{fragment}`, does not exist"


def test_the_parser_strips_comments_and_keeps_what_is_quoted():
    markdown = """## 1. A section
```sh
# a comment line
echo '# not a comment' "#nor this" # but this
```
```
not a command
```
## 2. Another
```sh
printf a#b \\
  c
```
"""
    assert [(c.section, c.text) for c in deploy_doc.commands(markdown)] == [
        ("1. A section", "echo '# not a comment' \"#nor this\""), ("2. Another", "printf a#b c")]


def test_a_rewritten_command_names_none_of_the_hosts_paths(tmp_path):
    line = "install -m 0640 x /etc/mailferry/mailferry.env && ls /var/lib/mailferry"
    with pytest.raises(AssertionError, match="/var/lib/mailferry"):
        deploy_doc.rewrite(line, {"/etc/mailferry": str(tmp_path / "etc" / "mailferry")})


# -- RUN commands no other module runs ------------------------------------------------------

def test_the_secret_commands_print_a_session_key_and_a_fernet_key(installed_mailferry, tmp_path):
    """With the installed virtualenv's Python, which has cryptography (Debian's python3 need not)."""
    places = {"/opt/mailferry/venv": str(installed_mailferry.parent)}
    secret_key = generated_secret(deploy_doc.command("secrets.token_urlsafe"), places, tmp_path)
    encryption_key = generated_secret(deploy_doc.command("Fernet.generate_key"), places, tmp_path)
    assert len(secret_key) >= SECRET_KEY_MIN_LENGTH and re.fullmatch(r"[A-Za-z0-9_-]+", secret_key), secret_key
    fernet = Fernet(encryption_key)
    assert fernet.decrypt(fernet.encrypt(b"a refresh token")) == b"a refresh token"


def test_the_upgrades_pip_line_installs_over_the_installed_package(installed_mailferry, built_wheel, tmp_path):
    """Section 12's pip line with the same wheel and lock copied to the host: pip accepts it
    and the installed `mailferry` still runs."""
    for copied in (built_wheel, PROJECT_ROOT / "requirements.lock"):
        shutil.copy2(copied, tmp_path / copied.name)
    line = deploy_doc.rewrite(deploy_doc.command("bin/pip install --upgrade"),
                              {"/opt/mailferry/venv": str(installed_mailferry.parent)})
    deploy_doc.run(line, tmp_path, {"PATH": os.environ["PATH"]}, timeout=600)
    help_text = subprocess.run([installed_mailferry / "mailferry", "--help"], capture_output=True, text=True,
                               cwd=tmp_path, timeout=60, check=True).stdout
    assert "one command per process" in help_text


# -- host-only commands ---------------------------------------------------------------------

def shipped_units_named(command_line: str) -> list[str]:
    """The units a systemctl line names, each checked to be one of deploy/systemd/ or an
    instance of one."""
    named = [word for word in shlex.split(command_line) if word.startswith("mailferry")]
    for unit in named:
        file = unit if "." in unit else f"{unit}.service"
        template = re.sub(r"@[^.]*\.", "@.", file)
        assert (UNITS_DIR / template).is_file(), f"`{command_line}` names {unit}, which deploy/systemd/ has not"
    return named


def only_the_account_is_missing(command_line: str, cwd: Path) -> None:
    """An `install` line with `-o/-g mailferry` run with its paths in the test's folder: with
    no mailferry account here, install refuses it before doing anything, for that reason alone
    (so every other word of it is one install accepts); where the account exists, it succeeds."""
    answer = deploy_doc.run(command_line, cwd, {"PATH": os.environ["PATH"], "LC_ALL": "C"}, check=False)
    try:
        grp.getgrnam("mailferry")
    except KeyError:
        assert answer.returncode == 1 and re.fullmatch(r"install: invalid (user|group) 'mailferry'\n",
                                                       answer.stderr), answer.stderr
    else:
        assert answer.returncode == 0, answer.stderr


def example_database() -> tuple[str, str]:
    """The user and database of deploy/mailferry.env.example's DATABASE_URL."""
    url = make_url(dotenv_values(ENV_EXAMPLE)["DATABASE_URL"])
    return url.username, url.database


@host_only("apt-get install", covered_by=TOPOLOGY_UP)
def test_apt_get_install_of_the_hosts_packages(line):
    """Installs Debian packages into the machine itself, which a test must not change. Each
    package it names is the one the deployment tests use, installed on this machine (nginx by
    tests/prerequisites.sh for `make test`): the topology runs their python3 venv, nginx,
    PostgreSQL and Redis."""
    packages = [word for word in shlex.split(line)[3:] if not word.startswith("-")]
    status = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Status}\\n", *packages], capture_output=True,
                            text=True, timeout=60)
    assert sorted(status.stdout.splitlines()) == sorted(f"{package} install ok installed" for package in packages), (
        status.stderr)


@host_only("useradd", covered_by=f"{SYSTEMD}test_every_service_runs_as_mailferry_hardened_writing_only_the_data_folder")
def test_useradd_of_the_service_account(line):
    """Creates a system account, which the tests must not do on this shared machine (they run
    every process as root). The account it makes is the one the units run as, with its home
    the one folder they may write."""
    words = shlex.split(line)
    common = unit_section("mailferry-.service.d/common.conf", "Service")
    assert words[-1] == common["User"] == common["Group"]
    assert words[words.index("--home-dir") + 1] == common["ReadWritePaths"]


@host_only("install -d -o mailferry", covered_by=TOPOLOGY_UP)
def test_install_of_the_data_folder(line, tmp_path):
    """Gives the folder to the mailferry account, which this machine lacks (useradd is host-only);
    the topology's processes create and use their MAILFERRY_DATA_DIR instead."""
    only_the_account_is_missing(deploy_doc.rewrite(line, {"/var/lib/mailferry": str(tmp_path / "data")}), tmp_path)


@host_only("-g mailferry /etc/mailferry", covered_by=TOPOLOGY_UP)
def test_install_of_the_configuration_folder(line, tmp_path):
    """Gives the folder to the mailferry group, which this machine lacks; the topology writes its
    etc/mailferry/mailferry.env in a folder of its own, and `db upgrade` reads it there."""
    only_the_account_is_missing(deploy_doc.rewrite(line, {"/etc/mailferry": str(tmp_path / "etc")}), tmp_path)


@host_only("install -m 0640",
           covered_by=f"{TOPOLOGY}test_the_shipped_environment_file_names_every_setting_the_topology_sets")
def test_install_of_the_environment_file(line, tmp_path):
    """Gives the file to the mailferry group, which this machine lacks; the topology test checks
    that the example names exactly the settings the topology runs with."""
    (tmp_path / "etc").mkdir()
    only_the_account_is_missing(deploy_doc.rewrite(line, {"/etc/mailferry": str(tmp_path / "etc")}), PROJECT_ROOT)


@host_only("createuser", covered_by="tests.db_fixtures::empty_database")
def test_createuser_of_the_database_role(line):
    """`sudo -u postgres` signs in to a local cluster as the postgres system account (peer
    authentication); the tests reach PostgreSQL over TCP as its postgres role and create each
    database themselves. The role made is the one the example's DATABASE_URL signs in as."""
    assert shlex.split(line)[-1] == example_database()[0]


@host_only("createdb", covered_by="tests.db_fixtures::temporary_postgresql_database")
def test_createdb_of_the_database(line):
    """As createuser (the postgres system account); the topology's database is made by
    tests/db_fixtures.empty_database. The database made is the example's, owned by its role."""
    words = shlex.split(line)
    user, database = example_database()
    assert (words[-1], words[words.index("--owner") + 1]) == (database, user)


@host_only("systemctl daemon-reload", covered_by=VERIFY)
def test_systemctl_daemon_reload(line):
    """Asks the running systemd (PID 1) to read the new units; PID 1 here is not systemd.
    systemd-analyze verify loads them with systemd's own parser instead."""
    assert shipped_units_named(line) == []


@host_only("systemctl enable --now", covered_by=TOPOLOGY_UP)
def test_systemctl_enable_now_of_the_services(line):
    """Needs systemd as PID 1. The topology starts these instances' ExecStart commands as systemd
    would (two web, two workers, the scheduler), each a process of the test."""
    assert {unit.split("@")[0] for unit in shipped_units_named(line)} == {
        "mailferry-web", "mailferry-worker", "mailferry-scheduler", "mailferry.target"}


@host_only("usermod -aG mailferry www-data", covered_by=THROUGH_NGINX)
def test_usermod_of_nginxs_user(line):
    """Changes the system's www-data account and needs the mailferry group, neither of which the
    tests may touch; their nginx runs as root, reaching the web sockets. The group is the units'
    and the user is the one Debian's nginx runs as."""
    words = shlex.split(line)
    assert words[2] == unit_section("mailferry-.service.d/common.conf", "Service")["Group"]
    assert f"user {words[3]};" in Path("/etc/nginx/nginx.conf").read_text()


@host_only("systemctl reload nginx", covered_by=THROUGH_NGINX)
def test_systemctl_reload_of_nginx(line):
    """Reloads the nginx systemd runs; the tests start their own nginx on the installed site
    (nginx_site.start_nginx) after the document's `nginx -t` accepted it."""
    assert shlex.split(line)[-1] == "nginx"


@host_only("systemctl stop", covered_by=f"{WHEEL}test_the_installed_worker_runs_what_the_installed_scheduler_enqueues")
def test_systemctl_stop_before_an_upgrade(line):
    """Needs systemd as PID 1. The tests stop workers and schedulers as systemd does (SIGTERM to
    the process group, services.Service.stop); an upgrade from one version to another is not
    run by any test."""
    assert shipped_units_named(line)


@host_only("systemctl restart", covered_by=TOPOLOGY_UP)
def test_systemctl_restart_of_the_web_instances(line):
    """Needs systemd as PID 1. The topology starts both web instances with their unit's command;
    no test restarts one while nginx sends requests to the other."""
    assert shipped_units_named(line) == ["mailferry-web@1", "mailferry-web@2"]


@host_only("systemctl start", covered_by=TOPOLOGY_UP)
def test_systemctl_start_after_an_upgrade(line):
    """Needs systemd as PID 1. The topology starts the workers and the scheduler with their
    units' commands on the upgraded database."""
    assert shipped_units_named(line)
