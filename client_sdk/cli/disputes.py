"""Verbs about disputes: open one (`dispute`) and list the member's own (`disputes`)."""

from __future__ import annotations

from pathlib import Path

import click

from client_sdk.cli.common import (
    emit,
    member_client,
    member_options,
    one_line_errors,
    output_option,
)
from client_sdk.cli.reports import kind_option
from schemas.limits import MAX_PAGE_SIZE
from schemas.reports import MEMBER_DISPUTE_STATES


@click.command()
@click.argument("value")
@click.option("--reason", required=True, help="Why the listing is wrong (shown to admins).")
@kind_option
@member_options
@output_option
@one_line_errors
def dispute(value: str, reason: str, kind: str, hub_url: str, key_path: Path, member_id: str,
            output: str) -> None:
    """Dispute the listing of VALUE (hashed here; held out of block while open)."""
    answer = member_client(hub_url, key_path, member_id).dispute(kind, value, reason)
    emit(output, answer, [f"dispute {answer.get('id')}: {answer.get('state')}"])


@click.command()
@click.option("--state", type=click.Choice(MEMBER_DISPUTE_STATES),
              help="received (not decided yet), upheld, delisted or dismissed.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, MAX_PAGE_SIZE))
@click.option("--offset", default=0, type=click.IntRange(0))
@member_options
@output_option
@one_line_errors
def disputes(state: str | None, limit: int, offset: int, hub_url: str, key_path: Path,
             member_id: str, output: str) -> None:
    """List the disputes this member opened, with their state and resolution."""
    items = member_client(hub_url, key_path, member_id).disputes(state, limit=limit,
                                                                 offset=offset)
    lines = [f"{d['id']}  {d['kind']}  {d['value'][:16]}…  {d['state']}  opened={d['created_at']}"
             + (f"  resolution: {d['resolution_reason']}" if d.get("resolution_reason") else "")
             for d in items]
    emit(output, {"items": items, "limit": limit, "offset": offset}, lines or ["no disputes"])
