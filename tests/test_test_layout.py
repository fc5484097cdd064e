"""The test tree's layout: helpers live in `tests/helpers/`, fixtures in conftest files.

A module that imports `tests.conftest` loads it a second time (pytest already loaded
it as a plugin), so its module-level state and fixtures exist twice. This test reads
every test and benchmark module and fails on such an import.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports_conftest(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names = {alias.name for alias in node.names}
        else:
            continue
        if any(name == "conftest" or name.endswith(".conftest") for name in names):
            lines.append(node.lineno)
    return lines


def test_no_module_imports_a_conftest() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for folder in ("tests", "bench")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line in _imports_conftest(path)
    ]
    assert offenders == [], f"import from tests/helpers/ instead: {offenders}"


def test_the_check_sees_a_conftest_import(tmp_path: Path) -> None:
    module = tmp_path / "test_bad.py"
    module.write_text("from tests.conftest import serve_hub\nimport tests.conftest\n")
    assert _imports_conftest(module) == [1, 2]
