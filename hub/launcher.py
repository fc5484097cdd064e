"""The `lianfang-hub` console script: check the hub extra is installed, then run `hub.cli`.

`pip install lianfang` is the SDK alone (issue 19), yet it still installs this
command. Importing `hub.cli` without Flask and SQLAlchemy would end in a
traceback, so this entry point looks for them first and, when one is missing,
says in one line what to install and exits 2.
"""

from __future__ import annotations

import importlib.util
import sys

HUB_MODULES = (
    "flask", "flask_babel", "apispec", "sqlalchemy", "alembic", "limits", "prometheus_client",
    "pythonjsonlogger",
)
"""Top-level modules of the `hub` extra that `hub.cli` needs to start."""

INSTALL_HINT = "lianfang-hub needs the hub's dependencies: pip install 'lianfang[hub]'"


def missing_hub_modules() -> list[str]:
    """The modules of the `hub` extra this interpreter cannot import."""
    return [name for name in HUB_MODULES if importlib.util.find_spec(name) is None]


def main() -> None:
    missing = missing_hub_modules()
    if missing:
        print(f"Error: {INSTALL_HINT} (missing: {', '.join(missing)})", file=sys.stderr)
        sys.exit(2)
    from hub.cli import main as hub_main

    hub_main()
