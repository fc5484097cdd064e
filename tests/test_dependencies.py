"""Declared dependencies and real imports agree (issue 12: "no dependency that nothing imports").

`flask-smorest` and `prometheus-client` were declared for a year without one
import, and `apispec` was imported without being declared (it came in through
flask-smorest). Both directions are checked against the installed
distributions' own file lists, so a rename on either side fails here.
"""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hub", "client_sdk", "schemas")
COMMANDS = {"gunicorn": "the production server: run as a command, never imported"}


def _dist(requirement: str) -> str:
    name = re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements() -> tuple[set[str], set[str]]:
    """(install_requires, every extra) as normalised distribution names."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    core = {_dist(x) for x in cfg["options"]["install_requires"].splitlines() if x.strip()}
    extras = {
        _dist(x)
        for _, value in cfg["options.extras_require"].items()
        for x in value.splitlines()
        if x.strip()
    }
    return core, extras


def _third_party_imports() -> set[str]:
    found: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in PACKAGES}


def _providers() -> dict[str, set[str]]:
    """Top-level module → normalised names of the distributions that install it."""
    return {
        module: {_dist(d) for d in dists}
        for module, dists in importlib.metadata.packages_distributions().items()
    }


def test_every_declared_dependency_is_imported() -> None:
    core, _ = _requirements()
    providers = _providers()
    imported_dists = {d for m in _third_party_imports() for d in providers.get(m, ())}
    unused = core - imported_dists - set(COMMANDS)
    assert unused == set(), f"declared in install_requires, imported nowhere: {sorted(unused)}"


def test_every_import_is_declared() -> None:
    core, extras = _requirements()
    providers = _providers()
    undeclared = {
        module
        for module in _third_party_imports()
        if not providers.get(module, set()) & (core | extras)
    }
    assert undeclared == set(), f"imported but not declared in setup.cfg: {sorted(undeclared)}"


def test_requirement_names_are_normalised() -> None:
    """The parser behind both checks: specifiers, extras and markers are cut off."""
    assert _dist("psycopg[binary]>=3.2,<4") == "psycopg"
    assert _dist("Flask_Limiter>=3.8,<5") == "flask-limiter"
    assert _dist("numpy>=2.0,<2.5 ; python_version<'3.12'") == "numpy"
