"""The operator's commands of docs/deploy.md, as the deployment tests run them: every line of
its ```sh blocks (comments stripped) with the section it is in, looked up by a fragment of its
text, its host paths and example names replaced by the test's own, and run by `sh -c`, so a
command changed in the document is the command the tests run.

test_deploy_doc.py checks that each command is run this way by a named test or is one that
needs a real host (systemd as PID 1, system accounts), with the test covering it instead."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
#: What a command may name on the host, and the example names of the document: all a test
#: replaces in a command (besides a program, `with_program`), and none may be left in it.
HOST_PATHS = ("/opt/mailferry/venv", "/etc/mailferry", "/etc/nginx", "/var/lib/mailferry", "/etc/systemd/system")
EXAMPLES = ("https://mailferry.example.com", "postgresql://mailferry@db.example.com/mailferry")
#: How the document runs a command as the service account; here the tests run as root.
AS_SERVICE_ACCOUNT = "sudo -u mailferry "
#: A replacement is put into the command as it is (possibly inside its quotes): no quoting.
_SHELL_SAFE = re.compile(r"[\w@%+=:,./-]+")


@dataclass(frozen=True)
class Command:
    section: str  # the heading above it, e.g. "7. The database schema"
    text: str


def commands(markdown: str | None = None) -> list[Command]:
    """Every command line of the ```sh blocks of `markdown` (default: docs/deploy.md), in order."""
    found, section, fence, pending = [], "", None, ""  # fence: the open block's language
    for line in (DOC.read_text() if markdown is None else markdown).splitlines():
        if line.lstrip().startswith("```"):  # a block inside a list item is indented
            fence = line.strip()[3:] if fence is None else None
            continue
        if fence is None:
            section = line.lstrip("#").strip() if line.startswith("## ") else section
            continue
        if fence != "sh":
            continue
        text = pending + _without_comment(line).strip()
        pending = text[:-1].rstrip() + " " if text.endswith("\\") else ""  # a continued line
        if text and not pending:
            found.append(Command(section, text))
    return found


def _without_comment(line: str) -> str:
    """The line up to a `#` that starts a shell comment (one outside quotes, at the start of a
    word)."""
    quote = None
    for at, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (at == 0 or line[at - 1].isspace()):
            return line[:at]
    return line


def command(fragment: str) -> str:
    """The one command of docs/deploy.md containing `fragment` (it may appear in several
    sections, always the same)."""
    texts = sorted({c.text for c in commands() if fragment in c.text})
    assert len(texts) == 1, f"{DOC.name}: expected one command containing {fragment!r}, found {texts}"
    return texts[0]


def rewrite(line: str, places: dict[str, str]) -> str:
    """`line` with each host path or example name of `places` replaced by the test's; each must
    be in the line, and no host path may be left (the test would touch the machine's)."""
    marked = line  # each replaced place marked first: the test's own folders may end in etc/nginx
    for number, (shipped, here) in enumerate(places.items()):
        assert shipped in HOST_PATHS + EXAMPLES, f"{shipped!r} is not a host path or example name of {DOC.name}"
        assert shipped in marked, f"{DOC.name}'s command no longer names {shipped}: {line}"
        assert _SHELL_SAFE.fullmatch(here), f"{here!r} would need quoting in the command"
        marked = marked.replace(shipped, f"\0{number}\0")
    left = [path for path in HOST_PATHS if path in marked]
    assert not left, f"{line!r} would still name the host's {left}"
    for number, here in enumerate(places.values()):
        marked = marked.replace(f"\0{number}\0", here)
    return marked


def with_program(line: str, program: str, here: str) -> str:
    """`line` whose program `program` is replaced by `here` (the test's path to it, or it with
    options pointing it at the test's folders)."""
    assert line.startswith(program + " "), f"{DOC.name}'s command no longer starts with {program}: {line}"
    return here + line[len(program):]


def as_root(line: str) -> str:
    """`line` without its `sudo -u mailferry`: the tests run as root, and this machine has no
    mailferry account (useradd is one of the host-only commands)."""
    assert line.startswith(AS_SERVICE_ACCOUNT), f"{DOC.name}'s command no longer runs as mailferry: {line}"
    return line[len(AS_SERVICE_ACCOUNT):]


def run(line: str, cwd: Path, env: dict[str, str] | None = None, *, check: bool = True,
        timeout: float = 300) -> subprocess.CompletedProcess:
    """`line` run by a shell, as an operator's shell runs it; with `check`, it must succeed."""
    answer = subprocess.run(["sh", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert not check or answer.returncode == 0, (
        f"{DOC.name}'s command failed ({answer.returncode}): {line}\n{answer.stdout[-3000:]}{answer.stderr[-3000:]}")
    return answer
