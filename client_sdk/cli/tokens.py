"""Reader tokens for the member's call screeners: `tokens list|mint|revoke`."""

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


@click.group()
def tokens() -> None:
    """Reader tokens for call screeners (feeds only) and TAXII tokens: list, mint, revoke."""


@tokens.command("list")
@member_options
@output_option
@one_line_errors
def list_tokens(hub_url: str, key_path: Path, member_id: str, output: str) -> None:
    """This member's reader tokens, revoked ones included (never the secrets)."""
    items = member_client(hub_url, key_path, member_id).reader_tokens()
    lines = [f"{t['id']}  {t.get('scope', 'reader')}  {t.get('label') or '-'}  "
             f"created={t['created_at']}  "
             + (f"revoked={t['revoked_at']}" if t.get("revoked_at") else "active")
             for t in items]
    emit(output, {"items": items}, lines or ["no reader tokens"])


@tokens.command("mint")
@click.option("--label", help="What the token is for (shown in the token list).")
@click.option("--scope", type=click.Choice(["reader", "taxii"]), default="reader",
              show_default=True,
              help="reader: a call screener's feed token; taxii: your threat-intel "
                   "platform's TAXII 2.1 token (HTTP Basic password).")
@member_options
@output_option
@one_line_errors
def mint(label: str | None, scope: str, hub_url: str, key_path: Path, member_id: str,
         output: str) -> None:
    """Mint a reader (or TAXII) token; prints it once on stdout (store it as a secret)."""
    record = member_client(hub_url, key_path, member_id).create_reader_token(label, scope)
    if output == "json":
        emit(output, record)
        return
    click.echo(record["token"])
    click.echo(f"token id {record['id']} (for `lianfang tokens revoke`)", err=True)


@tokens.command("revoke")
@click.argument("token_id")
@member_options
@output_option
@one_line_errors
def revoke(token_id: str, hub_url: str, key_path: Path, member_id: str, output: str) -> None:
    """Revoke reader token TOKEN_ID; screeners using it are refused from then on."""
    record = member_client(hub_url, key_path, member_id).revoke_reader_token(token_id)
    emit(output, record, [f"revoked {record['id']}"])


@click.command("mint-token")
@member_options
@click.option("--label", help="What the token is for (shown in the token list).")
@one_line_errors
def mint_token(hub_url: str, key_path: Path, member_id: str, label: str | None) -> None:
    """Mint a reader token (same as `tokens mint`; kept for existing scripts)."""
    click.echo(member_client(hub_url, key_path, member_id).mint_reader_token(label))
