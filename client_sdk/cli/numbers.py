"""The member's own numbers (号码认证): `numbers register|list|withdraw`."""

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
from schemas.limits import MAX_PAGE_SIZE
from schemas.numbers import NumberState, Purpose


@click.group()
def numbers() -> None:
    """Numbers this institution calls from or answers on: register, list, withdraw."""


@numbers.command("register")
@click.argument("number")
@click.option("--name", "display_name", required=True,
              help="Display name shown on verified calls, e.g. 中国工商银行.")
@click.option("--purpose", required=True, type=click.Choice([p.value for p in Purpose]))
@click.option("--region", default="CN", show_default=True, help="Region for national numbers.")
@member_options
@output_option
@one_line_errors
def register(number: str, display_name: str, purpose: str, region: str, hub_url: str,
             key_path: Path, member_id: str, output: str) -> None:
    """Register NUMBER (any spelling) for an admin to verify."""
    record = member_client(hub_url, key_path, member_id).register_number(
        number, display_name, purpose, region)
    emit(output, record, [f"number {record['id']}: {record['state']}  {record['label']}"])


@numbers.command("list")
@click.option("--state", type=click.Choice([s.value for s in NumberState]))
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, MAX_PAGE_SIZE))
@click.option("--offset", default=0, type=click.IntRange(0))
@member_options
@output_option
@one_line_errors
def list_numbers(state: str | None, limit: int, offset: int, hub_url: str, key_path: Path,
                 member_id: str, output: str) -> None:
    """This member's registered numbers, their state and the admin's note."""
    items = member_client(hub_url, key_path, member_id).numbers(state, limit=limit,
                                                               offset=offset)
    lines = [f"{n['id']}  {n['number']}  {n['label']}  {n['state']}"
             + (f"  note: {n['note']}" if n.get("note") else "") for n in items]
    emit(output, {"items": items, "limit": limit, "offset": offset}, lines or ["no numbers"])


@numbers.command("withdraw")
@click.argument("registration_id", type=click.IntRange(0))
@member_options
@output_option
@one_line_errors
def withdraw(registration_id: int, hub_url: str, key_path: Path, member_id: str,
             output: str) -> None:
    """Withdraw registration REGISTRATION_ID (a verified number leaves the allowlist)."""
    member_client(hub_url, key_path, member_id).withdraw_number(registration_id)
    emit(output, {"id": registration_id, "state": "withdrawn"},
         [f"number {registration_id}: withdrawn"])
