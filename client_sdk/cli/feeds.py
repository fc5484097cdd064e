"""Verbs about the signed feeds: sync, check (screen a number offline), status."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from client_sdk.cli.common import (
    FAILED,
    emit,
    finish,
    hub_option,
    load_private_key,
    member_client,
    member_options,
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
              help="A reader token (for a CDN: the token it checks, if any). [env LIANFANG_TOKEN]")
@click.option("--keys", "keys_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A consortium key bundle (`consortium-bundle`) for CDN mode.")
@output_option
@one_line_errors
def sync(hub_url: str, root_key: str, state_dir: Path, token: str, keys_path: Path | None,
         output: str) -> None:
    """Fetch, verify and store the feeds once; exit 1 when some feed failed, 2 when all did.

    Also checks the hub's signed audit checkpoint against the ones this state dir
    kept; a rewritten audit chain (`audit_rewrite`) counts as a failure.
    """
    client = _feed_client(state_dir, root_key, hub_url, token)
    if keys_path is not None:
        client.import_consortium_keys(keys_path.read_bytes())
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
    audit = client.audit_status
    if audit is not None:
        doc["audit"] = {"ok": audit.ok, "seq": audit.seq, "error_code": audit.error_code,
                        "error": audit.error}
        if audit.ok and output == "human":
            click.echo(f"audit: checkpoint row {audit.seq} (consistent with the kept checkpoints)")
        elif not audit.ok:
            click.echo(f"audit: FAILED {audit.error_code}: {audit.error}", err=True)
            if audit.error_code == "audit_rewrite":
                failed += 1
    emit(output, doc)
    finish(ok, failed)


@click.command("consortium-bundle")
@member_options
@click.option("--to", "bundle_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the bundle (mode 0600; it is a secret).")
@output_option
@one_line_errors
def consortium_bundle(hub_url: str, key_path: Path, member_id: str, bundle_path: Path,
                      output: str) -> None:
    """Write the phone consortium keys for screeners that sync from a CDN (`sync --keys`)."""
    import os

    bundle = member_client(hub_url, key_path, member_id).consortium_key_bundle()
    fd = os.open(bundle_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(bundle)
    emit(output, {"path": str(bundle_path)}, [f"wrote {bundle_path}"])


@click.command("verify-audit")
@hub_option
@root_option
@state_option
@click.option("--token", envvar="LIANFANG_TOKEN", default=None, help="A reader token.")
@click.option("--key", "key_path", envvar="LIANFANG_KEY", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Or sign as a member: the Ed25519 private key (PEM) ...")
@click.option("--member-id", envvar="LIANFANG_MEMBER_ID", default=None,
              help="... and the member id (to sign as a member instead of a reader token).")
@output_option
@one_line_errors
def verify_audit(hub_url: str, root_key: str, state_dir: Path, token: str | None,
                 key_path: Path | None, member_id: str | None, output: str) -> None:
    """Check the hub's signed audit checkpoint against the ones kept in the state dir.

    Exit 2 naming the error code when the hub's audit chain was rewritten since a
    checkpoint this state dir kept (`audit_rewrite`) or the checkpoint is refused.
    """
    from client_sdk.feed_client import FeedClient

    if token is None and (key_path is None or member_id is None):
        raise click.UsageError("pass --token, or --key and --member-id")
    signer = {} if token is not None else {
        "member_id": member_id, "private_key": load_private_key(key_path)}  # type: ignore[arg-type]
    client = FeedClient(hub_url, root_key, state_dir, token=token, **signer)
    try:
        result = client.verify_audit()
    finally:
        client.close()
    if not result.ok:
        click.echo(f"audit: FAILED {result.error_code}: {result.error}", err=True)
        raise SystemExit(FAILED)
    kept = len(client.audit_checkpoints())
    emit(output, {"ok": True, "seq": result.seq, "rows_checked": result.rows_checked,
                  "checkpoints_kept": kept},
         [f"audit chain OK: signed head at row {result.seq}, {result.rows_checked} new "
          f"rows linked, {kept} checkpoints kept"])


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
