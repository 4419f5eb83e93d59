"""The sandbox imports nothing from the product (DESIGN.md dependency rule)."""

from __future__ import annotations

import ast
from pathlib import Path

import sandbox.microsoft

PRODUCT = {"mailferry", "server", "worker", "cli"}


def test_microsoft_sandbox_imports_nothing_from_the_product():
    folder = Path(sandbox.microsoft.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            assert not {name.split(".")[0] for name in names} & PRODUCT, f"{path.name} imports {names}"
