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


# --- state has one owner each ---------------------------------------------------------------------

#: The state columns and the one module allowed to change them (an email row's, a mailbox's, a
#: connection's). The syntax tree does not know an object's type, so the names are owned
#: whatever object they are set on; `self.<name>` in a class of its own is not state.
STATE_OWNERS = {
    "mailferry/email_state.py": {"reason", "pending_operation", "attempts", "next_attempt_at"},
    "mailferry/mailbox_state.py": {"stage", "stage_started_at"},
    "mailferry/connection_state.py": set(),
}
SHARED_STATE = {"status", "status_detail"}  # named alike on all three; only their owners set them
OWNED = set().union(*STATE_OWNERS.values()) | SHARED_STATE
MODEL_CALLS = {"Message", "Mailbox", "Connection", "values"}  # constructors, and update(...).values(...)


def state_writes(path: str, tree: ast.AST):
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for item in (target.elts if isinstance(target, ast.Tuple) else [target]):
                if (isinstance(item, ast.Attribute) and item.attr in OWNED
                        and not (isinstance(item.value, ast.Name) and item.value.id == "self")):
                    yield f"{path}:{node.lineno} sets .{item.attr}"
        if isinstance(node, ast.Call):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called in MODEL_CALLS:
                yield from (f"{path}:{node.lineno} {called}({kw.arg}=…)" for kw in node.keywords if kw.arg in OWNED)
            if called == "setattr" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                    and node.args[1].value in OWNED:
                yield f"{path}:{node.lineno} setattr(…, {node.args[1].value!r})"


def test_only_the_state_machines_change_an_email_rows_a_mailboxs_or_a_connections_state():
    outside = [write for path, tree in modules("mailferry", "server", "worker", "cli") if path not in STATE_OWNERS
               for write in state_writes(path, tree)]
    assert outside == []


def test_each_state_machine_is_found_changing_its_state():
    """The check itself: in the owners it finds the writes it forbids elsewhere."""
    found = {path: {write.rsplit(" ", 1)[-1] for write in state_writes(path, tree)}
             for path, tree in modules("mailferry") if path in STATE_OWNERS}
    assert {".status", ".reason", ".pending_operation", ".attempts", ".next_attempt_at"} <= found[
        "mailferry/email_state.py"]
    assert {".status", ".stage"} <= found["mailferry/mailbox_state.py"]
    assert {".status", ".status_detail"} <= found["mailferry/connection_state.py"]


# -- the tests themselves: shared fixtures are plugins, helpers are plain modules ----------------
TESTS = ROOT / "tests"
IMPORTED_FIXTURES = re.compile(r"#\s*noqa:\s*F(401|811)\b")


def imported_test_modules(path: Path, tree: ast.AST) -> list[str]:
    """The `test_*` modules and conftests a module imports (absolute or relative)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            last = name.rsplit(".", 1)[-1]
            if name.startswith("tests") and (last.startswith("test_") or last == "conftest"):
                found.append(name)
    return found


def test_no_test_module_or_conftest_imports_a_test_module_or_a_conftest():
    """Fixtures several folders share are `pytest_plugins` modules (tests/conftest.py), helpers
    several modules call live in plain modules: importing a test module runs its tests'
    module-level set-up again, and importing a conftest's fixtures shadows them."""
    problems = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.name.startswith("test_") or path.name == "conftest.py":
            for name in imported_test_modules(path, ast.parse(path.read_text(), str(path))):
                problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not problems, "\n".join(problems)


def test_no_conftest_imports_fixtures_past_the_linter():
    """A `# noqa: F401`/`F811` in a conftest is a fixture imported (or shadowed) by hand."""
    problems = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                for path in sorted(TESTS.rglob("conftest.py"))
                for number, line in enumerate(path.read_text().splitlines(), 1)
                if IMPORTED_FIXTURES.search(line)]
    assert not problems, "\n".join(problems)


def test_the_test_import_check_sees_relative_and_absolute_imports():
    tree = ast.parse("from .conftest import A\nfrom tests.x.test_y import f\nfrom . import test_z\n"
                     "import tests.conftest\nfrom tests.x.helpers import g\n")
    assert imported_test_modules(TESTS / "x" / "test_w.py", tree) == [
        "tests.x.conftest", "tests.x.test_y", "tests.x.test_z", "tests.conftest"]
