"""`lianfang-hub purge`: run the retention purge now (the scheduler also runs it)."""

from __future__ import annotations

import click
from flask import Flask

from hub import get_config
from hub.cli import main, pass_app
from hub.services.retention import purge


@main.command("purge")
@pass_app
def purge_cmd(app: Flask) -> None:
    """Delete expired reports, used nonces, dead admin sessions, consumed journal rows
    and stale feed artifacts (see LIANFANG_RETENTION_DAYS); the audit log is kept."""
    result = purge(app, get_config(app))
    if result.busy:
        raise click.ClickException("another purge is running; try again shortly")
    click.echo(
        f"purged {result.reports} report(s), {result.nonces} nonce(s), "
        f"{result.admin_tokens} admin session(s), {result.feed_changes} journal row(s), "
        f"{result.artifacts} artifact(s); {result.listings_recomputed} listing(s) re-merged"
    )
