"""The hub's layering holds in the source, not only in `lint-imports` (issue 12).

An import of a `hub.services` module inside a function body is how the old
ingest → listings → consortium_keys → allowlist → ingest cycle stayed hidden:
it loads fine until someone moves the import to the top. So none is allowed
anywhere in `hub/`; a cycle must be cut by moving code down a layer instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

HUB = Path(__file__).resolve().parent.parent / "hub"


def _imported_modules(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level or node.module is None:
        return []
    if node.module == "hub":
        return [f"hub.{alias.name}" for alias in node.names]
    base = node.module
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def service_imports_in_functions(source: str) -> list[tuple[int, str]]:
    """(line, module) of every `hub.services` import nested in a function body."""
    found: list[tuple[int, str]] = []
    for func in ast.walk(ast.parse(source)):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for module in _imported_modules(node):
                    if module == "hub.services" or module.startswith("hub.services."):
                        found.append((node.lineno, module))
                        break
    return sorted(set(found))


def test_no_service_import_inside_a_function() -> None:
    offenders = [
        f"{path.relative_to(HUB.parent)}:{line}: {module}"
        for path in sorted(HUB.rglob("*.py"))
        for line, module in service_imports_in_functions(path.read_text(encoding="utf-8"))
    ]
    hint = "hub.services imported inside a function (import it at module level):\n"
    assert offenders == [], hint + "\n".join(offenders)


def test_the_check_sees_every_spelling() -> None:
    """The detector itself must catch each way of writing such an import."""
    spellings = [
        "from hub.services.ingest import check_epoch",
        "from hub.services import ingest",
        "import hub.services.ingest",
        "from hub import services",
    ]
    for spelling in spellings:
        nested = f"def f():\n    if True:\n        {spelling}\n"
        assert service_imports_in_functions(nested), spelling
        assert not service_imports_in_functions(spelling + "\n"), spelling
    assert not service_imports_in_functions("def f():\n    from hub.db import get_db\n")
