"""`lianfang`: the member's command line (keys, membership, reports, feeds, screening).

Every failure ends in one line on stderr starting with ``error:`` and a non-zero
exit code, so the commands compose in shell scripts and cron jobs. Settings
that a deployment repeats on every call can come from the environment:
``LIANFANG_HUB_URL``, ``LIANFANG_TOKEN``, ``LIANFANG_STATE_DIR``,
``LIANFANG_ROOT_KEY``, ``LIANFANG_MEMBER_ID`` and ``LIANFANG_KEY``.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from tqdm import tqdm

from client_sdk.errors import SyncError
from client_sdk.member_client import HubError, MemberClient
from schemas.enums import Category, IndicatorKind, MemberKind
from schemas.keys import b64encode, fingerprint
from schemas.reports import MAX_BATCH_REPORTS

F = TypeVar("F", bound=Callable[..., Any])
try:
    _VERSION = metadata.version("lianfang")
except metadata.PackageNotFoundError:  # running from a source tree
    _VERSION = "0.1.0"
_OFFLINE_HUB = "http://127.0.0.1:9"
"""Hub URL given to a FeedClient that only reads the state dir (never contacted)."""


def _one_line_errors(func: F) -> F:
    """Turn expected failures into `error: ...` on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HubError as exc:
            detail = f" {exc.fields}" if exc.fields else ""
            raise click.ClickException(f"hub refused ({exc.status} {exc.code}): "
                                       f"{exc.message}{detail}") from exc
        except (OSError, ValueError, SyncError) as exc:
            raise click.ClickException(str(exc) or type(exc).__name__) from exc

    return wrapper  # type: ignore[return-value]


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The member's Ed25519 key from an unencrypted PKCS8 PEM file."""
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 key")
    return key


def _public_b64(key: Ed25519PrivateKey) -> str:
    return b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


hub_option = click.option(
    "--hub", "hub_url", envvar="LIANFANG_HUB_URL", required=True, help="Hub base URL."
)
key_option = click.option(
    "--key",
    "key_path",
    envvar="LIANFANG_KEY",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The member's Ed25519 private key (PEM).",
)
state_option = click.option(
    "--state-dir",
    envvar="LIANFANG_STATE_DIR",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where verified feeds are kept.",
)
root_option = click.option(
    "--root-key",
    envvar="LIANFANG_ROOT_KEY",
    required=True,
    help="The hub's root public key (base64), as printed by `lianfang-hub root-key`.",
)


@click.group()
@click.version_option(_VERSION)
def cli() -> None:
    """Lianfang (联防) member tools: report hashed numbers, sync signed feeds, screen calls."""


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@_one_line_errors
def keygen(path: Path, force: bool) -> None:
    """Create an Ed25519 member key at PATH (PKCS8 PEM, mode 0600)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError as exc:
        raise ValueError(f"{path} exists (use --force to overwrite)") from exc
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(pem)
    click.echo(f"wrote {path}")
    click.echo(f"public key: {_public_b64(key)}")
    click.echo(f"fingerprint: {_fingerprint(key)}")


def _fingerprint(key: Ed25519PrivateKey) -> str:
    """The fingerprint the console shows for this key, to compare out of band."""
    return fingerprint(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


@cli.command("fingerprint")
@click.argument("key_path", metavar="KEY", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output", type=click.Choice(["human", "json"]), default="human")
@_one_line_errors
def fingerprint_command(key_path: Path, output: str) -> None:
    """Print the fingerprint of the member key at KEY, as the hub's console shows it."""
    key = load_private_key(key_path)
    if output == "json":
        click.echo(json.dumps({"public_key": _public_b64(key), "fingerprint": _fingerprint(key)}))
    else:
        click.echo(_fingerprint(key))


@cli.command()
@hub_option
@key_option
@click.option("--name", required=True)
@click.option("--kind", required=True, type=click.Choice([k.value for k in MemberKind]))
@click.option("--registration-no", required=True)
@click.option("--email", "contact_email", required=True)
@_one_line_errors
def apply(
    hub_url: str, key_path: Path, name: str, kind: str, registration_no: str, contact_email: str
) -> None:
    """Apply for membership; prints the member id (pending until an admin approves)."""
    key = load_private_key(key_path)
    client = MemberClient(hub_url, key)
    member_id = client.apply(name, kind, registration_no, contact_email)
    click.echo(member_id)
    click.echo(f"key fingerprint (check it with the hub's console): {_fingerprint(key)}",
               err=True)


@cli.command("mint-token")
@hub_option
@key_option
@click.option("--member-id", envvar="LIANFANG_MEMBER_ID", required=True)
@click.option("--label", help="What the token is for (shown in the token list).")
@_one_line_errors
def mint_token(hub_url: str, key_path: Path, member_id: str, label: str | None) -> None:
    """Mint a reader token for call screeners; prints it once (store it as a secret)."""
    client = MemberClient(hub_url, load_private_key(key_path), member_id)
    click.echo(client.mint_reader_token(label))


def _read_column(path: Path, column: str) -> Iterator[tuple[int, str]]:
    """(line number, raw value) for each data row of a CSV file.

    A first row holding a cell named `column` is a header and picks the column;
    otherwise every row is data and the first column is used.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        index = 0
        first = True
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if first:
                first = False
                names = [cell.strip().lower() for cell in row]
                if column.lower() in names:
                    index = names.index(column.lower())
                    continue
            yield reader.line_num, row[index].strip() if index < len(row) else ""


@cli.command()
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@hub_option
@key_option
@click.option("--member-id", envvar="LIANFANG_MEMBER_ID", required=True)
@click.option("--category", required=True, type=click.Choice([c.value for c in Category]))
@click.option("--confidence", required=True, type=click.IntRange(1, 100))
@click.option(
    "--kind", default=IndicatorKind.PHONE.value,
    type=click.Choice([k.value for k in IndicatorKind if k is not IndicatorKind.COMPLAINT_TEXT]),
)
@click.option("--column", default="number", show_default=True, help="CSV column to read.")
@click.option("--batch-size", default=MAX_BATCH_REPORTS, type=click.IntRange(1, MAX_BATCH_REPORTS))
@click.option("--no-progress", is_flag=True, help="No progress bar (for logs).")
@click.option("--wait", is_flag=True,
              help="Return only when the hub has merged every batch (listings updated).")
@_one_line_errors
def report(
    csv_file: Path,
    hub_url: str,
    key_path: Path,
    member_id: str,
    category: str,
    confidence: int,
    kind: str,
    column: str,
    batch_size: int,
    no_progress: bool,
    wait: bool,
) -> None:
    """Hash and report the numbers in CSV_FILE (raw values never leave this machine).

    Rows that do not normalise are listed with their line numbers; the good
    rows are sent in batches. The hub acknowledges a batch when it is stored;
    with --wait the command returns once every batch is merged into the
    listings. Exit status 1 when any row was rejected.
    """
    rows = list(_read_column(csv_file, column))
    client = MemberClient(hub_url, load_private_key(key_path), member_id, batch_size=batch_size)
    accepted = 0
    batch_ids: list[str] = []
    problems: list[tuple[int, str]] = []
    with tqdm(total=len(rows), unit="row", disable=no_progress, file=sys.stderr) as bar:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            result = client.report(kind, [raw for _, raw in chunk], category, confidence)
            accepted += result.accepted
            batch_ids.extend(result.batch_ids)
            for index, error in result.errors.items():
                problems.append((chunk[index][0], _describe(error)))
            bar.update(len(chunk))
    for line, message in sorted(problems):
        click.echo(f"line {line}: {message}", err=True)
    click.echo(f"accepted {accepted} of {len(rows)} rows; rejected {len(problems)}")
    if wait and batch_ids:
        client.wait_merged(batch_ids)
        click.echo(f"merged {len(batch_ids)} batch(es)")
    elif batch_ids:
        click.echo(f"stored {len(batch_ids)} batch(es); the hub merges them shortly "
                   "(--wait waits for it)")
    if problems:
        raise SystemExit(1)


def _describe(error: str | dict[str, Any]) -> str:
    if isinstance(error, str):
        return error
    return "; ".join(f"{field}: {' '.join(map(str, msgs))}" for field, msgs in error.items())


def _feed_client(
    state_dir: Path, root_key: str, hub_url: str = _OFFLINE_HUB, token: str | None = None
) -> Any:
    from client_sdk.feed_client import FeedClient

    return FeedClient(hub_url, root_key, state_dir, token=token)


@cli.command()
@hub_option
@root_option
@state_option
@click.option("--token", envvar="LIANFANG_TOKEN", required=True, help="A reader token.")
@_one_line_errors
def sync(hub_url: str, root_key: str, state_dir: Path, token: str) -> None:
    """Fetch, verify and store the feeds once; exit 1 when any feed failed."""
    client = _feed_client(state_dir, root_key, hub_url, token)
    failed = False
    for feed, result in client.sync().items():
        if result.ok:
            note = "updated" if result.changed else "unchanged"
            click.echo(f"{feed}: version {result.version} ({note})")
        else:
            failed = True
            click.echo(f"{feed}: FAILED {result.error_code}: {result.error}", err=True)
    if failed:
        raise SystemExit(1)


def _parse_window(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError("--quiet-hours must look like 22:00-08:00")
    return start.strip(), end.strip()


@cli.command()
@click.argument("number")
@state_option
@root_option
@click.option("--contact", "contacts", multiple=True, help="A personal contact (repeatable).")
@click.option("--quiet-hours", help="Local window like 22:00-08:00 silencing unknown callers.")
@click.option("--timezone", default="Asia/Shanghai", show_default=True)
@click.option("--at", "at_text", help="Screen as of this ISO time instead of now.")
@_one_line_errors
def check(
    number: str,
    state_dir: Path,
    root_key: str,
    contacts: tuple[str, ...],
    quiet_hours: str | None,
    timezone: str,
    at_text: str | None,
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
    click.echo(
        f"{verdict.action}  reasons={','.join(verdict.reasons)}  feeds={feeds}"
        f"  stale={'yes' if verdict.stale else 'no'}"
    )


@cli.command()
@state_option
@root_option
@_one_line_errors
def status(state_dir: Path, root_key: str) -> None:
    """Per-feed version, last success and last error of the state dir."""
    for feed, st in _feed_client(state_dir, root_key).status().items():
        last = st.last_success.isoformat() if st.last_success else "never"
        error = f"  last_error={st.last_error_code}" if st.last_error_code else ""
        click.echo(
            f"{feed}: version={st.version if st.version is not None else '-'}"
            f"  last_success={last}  stale={'yes' if st.stale else 'no'}{error}"
        )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
