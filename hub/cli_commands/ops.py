"""Operator commands: `migrate` (schema upgrades; docs/OPERATIONS.md, "Upgrading")."""

from __future__ import annotations

import click
from flask import Flask

from hub.cli import main, pass_app


@main.command()
@pass_app
def migrate(app: Flask) -> None:
    """Upgrade the database schema to the revision this code expects (Alembic head).

    Safe to run again; run it with the hub stopped (or before starting the new
    release), since `serve` and `/readyz` refuse a database at another revision.
    """
    from hub import get_config
    from hub.db import current_revision
    from hub.db import migrate as alembic_upgrade
    from hub.schema_state import expected_revision, known_revisions

    url = get_config(app).database_url
    before = current_revision(url)
    target = expected_revision()
    if before is not None and before not in known_revisions():
        raise click.ClickException(
            f"the database schema {before} is newer than this code ({target}); "
            "upgrade lianfang-hub instead"
        )
    if before == target:
        click.echo(f"schema already at {target}; nothing to do")
        return
    alembic_upgrade(url)
    click.echo(f"schema upgraded from {before or 'empty'} to {current_revision(url)}")
