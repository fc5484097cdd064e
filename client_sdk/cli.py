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
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from tqdm import tqdm

from client_sdk.errors import SyncError
from client_sdk.member_client import HubError, MemberClient
from schemas import keyfile
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


PASSPHRASE_ENV = "LIANFANG_MEMBER_KEY_PASSPHRASE"
"""Where a passphrase-protected member key's passphrase comes from (cron jobs);
an interactive terminal is asked instead when it is unset."""


def _passphrase(confirm: bool = False) -> bytes:
    value = os.environ.get(PASSPHRASE_ENV)
    if value is None:
        if not sys.stdin.isatty():
            raise ValueError(f"the key is passphrase-protected: set {PASSPHRASE_ENV}")
        value = click.prompt("key passphrase", hide_input=True, confirmation_prompt=confirm)
    if not value:
        raise ValueError("an empty passphrase protects nothing")
    return value.encode("utf-8")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The member's Ed25519 key: plain PKCS8 PEM, or passphrase-protected (`schemas.keyfile`,
    including files encrypted the old PBKDF2 way)."""
    data = path.read_bytes()
    passphrase = _passphrase() if keyfile.is_encrypted(data) else None
    try:
        return keyfile.load_private_key(data, passphrase)
    except keyfile.KeyFileError as exc:
        raise ValueError(f"{path}: {exc}") from exc


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
@click.option("--encrypt", is_flag=True,
              help=f"Protect the key with a passphrase (scrypt; from {PASSPHRASE_ENV} or asked).")
@_one_line_errors
def keygen(path: Path, force: bool, encrypt: bool) -> None:
    """Create an Ed25519 member key at PATH (mode 0600; PKCS8 PEM, or scrypt-encrypted)."""
    key = Ed25519PrivateKey.generate()
    pem = keyfile.dump_private_key(key, _passphrase(confirm=True) if encrypt else None)
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
) -> None:
    """Hash and report the numbers in CSV_FILE (raw values never leave this machine).

    Rows that do not normalise are listed with their line numbers; the good
    rows are sent in batches. Exit status 1 when any row was rejected.
    """
    rows = list(_read_column(csv_file, column))
    client = MemberClient(hub_url, load_private_key(key_path), member_id, batch_size=batch_size)
    accepted = 0
    problems: list[tuple[int, str]] = []
    with tqdm(total=len(rows), unit="row", disable=no_progress, file=sys.stderr) as bar:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            result = client.report(kind, [raw for _, raw in chunk], category, confidence)
            accepted += result.accepted
            for index, error in result.errors.items():
                problems.append((chunk[index][0], _describe(error)))
            bar.update(len(chunk))
    for line, message in sorted(problems):
        click.echo(f"line {line}: {message}", err=True)
    click.echo(f"accepted {accepted} of {len(rows)} rows; rejected {len(problems)}")
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


@cli.command("consortium-bundle")
@hub_option
@key_option
@click.option("--member-id", envvar="LIANFANG_MEMBER_ID", required=True)
@click.option("--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="Where to write the bundle (mode 0600; it is a secret).")
@_one_line_errors
def consortium_bundle(hub_url: str, key_path: Path, member_id: str, output: Path) -> None:
    """Write the phone consortium keys for screeners that sync from a CDN (`sync --keys`)."""
    import os

    bundle = MemberClient(hub_url, load_private_key(key_path), member_id).consortium_key_bundle()
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(bundle)
    click.echo(f"wrote {output}")


@cli.command()
@hub_option
@root_option
@state_option
@click.option("--token", envvar="LIANFANG_TOKEN", required=True,
              help="A reader token (for a CDN: the token it checks, if any).")
@click.option("--keys", "keys_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A consortium key bundle (`consortium-bundle`) for CDN mode.")
@_one_line_errors
def sync(
    hub_url: str, root_key: str, state_dir: Path, token: str, keys_path: Path | None
) -> None:
    """Fetch, verify and store the feeds once; exit 1 when any feed failed."""
    client = _feed_client(state_dir, root_key, hub_url, token)
    if keys_path is not None:
        client.import_consortium_keys(keys_path.read_bytes())
    failed = False
    for feed, result in client.sync().items():
        if result.ok:
            note = "updated" if result.changed else "unchanged"
            click.echo(f"{feed}: version {result.version} ({note})")
        else:
            failed = True
            click.echo(f"{feed}: FAILED {result.error_code}: {result.error}", err=True)
    audit = client.audit_status
    if audit is not None and audit.ok:
        click.echo(f"audit: checkpoint row {audit.seq} (consistent with the kept checkpoints)")
    elif audit is not None:
        click.echo(f"audit: FAILED {audit.error_code}: {audit.error}", err=True)
        failed = failed or audit.error_code == "audit_rewrite"
    if failed:
        raise SystemExit(1)


@cli.command("verify-audit")
@hub_option
@root_option
@state_option
@click.option("--token", envvar="LIANFANG_TOKEN", default=None, help="A reader token.")
@click.option("--key", "key_path", envvar="LIANFANG_KEY", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Or sign as a member: the Ed25519 private key (PEM) ...")
@click.option("--member-id", envvar="LIANFANG_MEMBER_ID", default=None,
              help="... and the member id.")
@_one_line_errors
def verify_audit(hub_url: str, root_key: str, state_dir: Path, token: str | None,
                 key_path: Path | None, member_id: str | None) -> None:
    """Check the hub's signed audit checkpoint against the ones kept in the state dir.

    Exit 1 naming the error code when the hub's audit chain was rewritten since a
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
        raise SystemExit(1)
    kept = len(client.audit_checkpoints())
    click.echo(f"audit chain OK: signed head at row {result.seq}, {result.rows_checked} new "
               f"rows linked, {kept} checkpoints kept")


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
