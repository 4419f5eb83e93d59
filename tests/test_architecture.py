"""The dependency rule of DESIGN.md, and the job names that couple the web app to the worker,
checked on the syntax tree of every module (not by grep: an import inside a function counts,
a word in a comment does not).

    server → mailferry (the shared core) ← worker;  sandbox ↔ product: never

`cli` is the launcher: it composes the processes, so it may import every product package,
and the sandbox only where it serves the sandbox servers (`cli/processes.py`).
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from worker.scheduler import SCHEDULE

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mailferry", "server", "worker", "cli", "sandbox")
PRODUCT = {"mailferry", "server", "worker", "cli"}
MAY_NOT_IMPORT = {
    "mailferry": {"server", "worker", "cli", "sandbox"},
    "server": {"worker", "cli", "sandbox"},
    "worker": {"server", "cli", "sandbox"},
    "cli": {"sandbox"},
    "sandbox": PRODUCT,
}
# The one place the launcher reaches into the sandbox: to serve its two servers.
ALLOWED = {("cli/processes.py", "sandbox")}
JOB_NAME = re.compile(r"worker\.jobs\.([A-Za-z_]\w*)")


def modules(*folders: str):
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), filename=str(path))


def imported_packages(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_what_the_dependency_rule_allows(package):
    broken = [f"{path}:{line} imports {imported}"
              for path, tree in modules(package)
              for line, imported in imported_packages(tree)
              if imported in MAY_NOT_IMPORT[package] and (path, imported) not in ALLOWED]
    assert broken == []


def test_the_rule_is_checked_on_every_module_including_imports_inside_functions():
    """The check itself: it finds the launcher's one allowed import, which sits in a function."""
    found = {(path, imported) for path, tree in modules("cli") for _, imported in imported_packages(tree)
             if imported == "sandbox"}
    assert found == ALLOWED


def test_every_job_name_used_anywhere_resolves_to_a_function_of_worker_jobs():
    jobs = importlib.import_module("worker.jobs")
    used = {(path, node.lineno, match.group(1))
            for path, tree in modules("mailferry", "server", "worker", "cli", "tests", "bench")
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and (match := JOB_NAME.fullmatch(node.value))}
    used |= {("worker/scheduler.py", 0, periodic.name) for periodic in SCHEDULE}  # enqueued as f"worker.jobs.{name}"
    assert len({name for _, _, name in used}) >= 6
    unresolved = [f"{path}:{line} worker.jobs.{name}" for path, line, name in sorted(used)
                  if not callable(getattr(jobs, name, None))]
    assert unresolved == []
