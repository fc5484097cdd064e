"""Verbs about the signed feeds: sync, check (screen a number offline), status."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from client_sdk.cli.common import (
    emit,
    finish,
    hub_option,
    one_line_errors,
    output_option,
    root_option,
    state_option,
)

_OFFLINE_HUB = "http://127.0.0.1:9"
"""Hub URL given to a FeedClient that only reads the state dir (never contacted)."""


def _feed_client(
    state_dir: Path, root_key: str, hub_url: str = _OFFLINE_HUB, token: str | None = None
) -> Any:
    from client_sdk.feed_client import FeedClient

    return FeedClient(hub_url, root_key, state_dir, token=token)


@click.command()
@hub_option
@root_option
@state_option
@click.option("--token", envvar="LIANFANG_TOKEN", required=True,
              help="A reader token. [env LIANFANG_TOKEN]")
@output_option
@one_line_errors
def sync(hub_url: str, root_key: str, state_dir: Path, token: str, output: str) -> None:
    """Fetch, verify and store the feeds once; exit 1 when some feed failed, 2 when all did."""
    client = _feed_client(state_dir, root_key, hub_url, token)
    ok = failed = 0
    doc: dict[str, Any] = {}
    for feed, result in client.sync().items():
        doc[feed] = {"ok": result.ok, "version": result.version, "changed": result.changed,
                     "error_code": result.error_code, "error": result.error}
        if result.ok:
            ok += 1
            if output == "human":
                note = "updated" if result.changed else "unchanged"
                click.echo(f"{feed}: version {result.version} ({note})")
        else:
            failed += 1
            click.echo(f"{feed}: FAILED {result.error_code}: {result.error}", err=True)
    emit(output, doc)
    finish(ok, failed)


def _parse_window(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError("--quiet-hours must look like 22:00-08:00")
    return start.strip(), end.strip()


@click.command()
@click.argument("number")
@state_option
@root_option
@click.option("--contact", "contacts", multiple=True, help="A personal contact (repeatable).")
@click.option("--quiet-hours", help="Local window like 22:00-08:00 silencing unknown callers.")
@click.option("--timezone", default="Asia/Shanghai", show_default=True)
@click.option("--at", "at_text", help="Screen as of this ISO time instead of now.")
@output_option
@one_line_errors
def check(
    number: str,
    state_dir: Path,
    root_key: str,
    contacts: tuple[str, ...],
    quiet_hours: str | None,
    timezone: str,
    at_text: str | None,
    output: str,
) -> None:
    """Screen NUMBER against the synced feeds in the state dir and print the verdict."""
    from client_sdk.screener import CallScreener

    screener = CallScreener(
        _feed_client(state_dir, root_key),
        contacts=contacts,
        quiet_hours=_parse_window(quiet_hours),
        timezone=timezone,
    )
    at = datetime.fromisoformat(at_text) if at_text else None
    verdict = screener.check(number, at=at)
    versions = verdict.feed_version if isinstance(verdict.feed_version, dict) else {}
    feeds = ",".join(f"{f}@{v}" for f, v in sorted(versions.items())) or "-"
    emit(output, {"action": verdict.action, "reasons": list(verdict.reasons),
                  "feeds": dict(sorted(versions.items())), "stale": verdict.stale},
         [f"{verdict.action}  reasons={','.join(verdict.reasons)}  feeds={feeds}"
          f"  stale={'yes' if verdict.stale else 'no'}"])


@click.command()
@state_option
@root_option
@output_option
@one_line_errors
def status(state_dir: Path, root_key: str, output: str) -> None:
    """Per-feed version, last success and last error of the state dir."""
    doc: dict[str, Any] = {}
    lines: list[str] = []
    for feed, st in _feed_client(state_dir, root_key).status().items():
        last = st.last_success.isoformat() if st.last_success else "never"
        doc[feed] = {"version": st.version, "last_success": st.last_success and last,
                     "stale": st.stale, "last_error_code": st.last_error_code}
        error = f"  last_error={st.last_error_code}" if st.last_error_code else ""
        lines.append(f"{feed}: version={st.version if st.version is not None else '-'}"
                     f"  last_success={last}  stale={'yes' if st.stale else 'no'}{error}")
    emit(output, doc, lines)
