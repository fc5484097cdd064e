"""`lianfang-hub backup DEST` and `restore SRC` (hub/backup.py; docs/OPERATIONS.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask

from hub.backup import METHODS, BackupError, backup, restore
from hub.cli import CliState, main, pass_app


@main.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--method", type=click.Choice(METHODS), default="auto", show_default=True,
              help="Database copy: SQLite backup API, pg_dump, or a portable JSON export.")
@pass_app
def backup_cmd(app: Flask, dest: Path, method: str) -> None:
    """Back up a running hub: database, keys (encrypted as on disk), published feeds."""
    from hub import get_config

    try:
        result = backup(app, get_config(app), dest, method)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps({"backup": str(result.path), "method": result.method,
                           "revision": result.revision, "feeds": result.feeds}))


@main.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--published-from", "published_from", multiple=True, metavar="DIR|URL",
              help="Where the newest published manifests are when the feed directory was "
              "lost too: an export-feeds directory or a mirror's /v1 base URL (repeatable).")
@click.option("--token-env", default=None, metavar="VAR",
              help="Environment variable holding a bearer token for --published-from URLs.")
@click.pass_context
def restore_cmd(ctx: click.Context, src: Path, published_from: tuple[str, ...],
                token_env: str | None) -> None:
    """Restore a backup into an empty data directory and an empty database.

    Then run `lianfang-hub build-feeds`: versions continue above the newest ever
    published, so screeners accept the next version with no manual step.
    """
    import os

    state = ctx.find_object(CliState)
    assert state is not None
    token = os.environ.get(token_env) if token_env else None
    try:
        result = restore(state.config, src, published_from, token)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(result))
