"""Verbs about the member's key and membership: keygen, fingerprint, apply, whoami."""

from __future__ import annotations

import os
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_sdk.cli.common import (
    PASSPHRASE_ENV,
    emit,
    hub_option,
    key_fingerprint,
    key_option,
    load_private_key,
    member_client,
    member_options,
    one_line_errors,
    output_option,
    passphrase,
    public_b64,
)
from client_sdk.member_client import MemberClient
from schemas import keyfile
from schemas.enums import MemberKind


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--encrypt", is_flag=True,
              help=f"Protect the key with a passphrase (scrypt; from {PASSPHRASE_ENV} or asked).")
@output_option
@one_line_errors
def keygen(path: Path, force: bool, encrypt: bool, output: str) -> None:
    """Create an Ed25519 member key at PATH (mode 0600; PKCS8 PEM, or scrypt-encrypted)."""
    key = Ed25519PrivateKey.generate()
    pem = keyfile.dump_private_key(key, passphrase(confirm=True) if encrypt else None)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError as exc:
        raise ValueError(f"{path} exists (use --force to overwrite)") from exc
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(pem)
    doc = {"path": str(path), "public_key": public_b64(key), "fingerprint": key_fingerprint(key)}
    emit(output, doc, [f"wrote {path}", f"public key: {doc['public_key']}",
                       f"fingerprint: {doc['fingerprint']}"])


@click.command("fingerprint")
@click.argument("key_path", metavar="KEY", type=click.Path(dir_okay=False, path_type=Path))
@output_option
@one_line_errors
def fingerprint_command(key_path: Path, output: str) -> None:
    """Print the fingerprint of the member key at KEY, as the hub's console shows it."""
    key = load_private_key(key_path)
    emit(output, {"public_key": public_b64(key), "fingerprint": key_fingerprint(key)},
         [key_fingerprint(key)])


@click.command()
@hub_option
@key_option
@click.option("--name", required=True)
@click.option("--kind", required=True, type=click.Choice([k.value for k in MemberKind]))
@click.option("--registration-no", required=True)
@click.option("--email", "contact_email", required=True)
@output_option
@one_line_errors
def apply(hub_url: str, key_path: Path, name: str, kind: str, registration_no: str,
          contact_email: str, output: str) -> None:
    """Apply for membership; prints the member id (pending until an admin approves)."""
    key = load_private_key(key_path)
    member_id = MemberClient(hub_url, key).apply(name, kind, registration_no, contact_email)
    if output == "json":
        emit(output, {"member_id": member_id, "state": "pending",
                      "fingerprint": key_fingerprint(key)})
        return
    click.echo(member_id)
    click.echo(f"key fingerprint (check it with the hub's console): {key_fingerprint(key)}",
               err=True)


@click.command()
@member_options
@output_option
@one_line_errors
def whoami(hub_url: str, key_path: Path, member_id: str, output: str) -> None:
    """Who the hub thinks this key is: member, state, merge weight and key fingerprint.

    The hub's fingerprint is compared with the local key's; they always match
    when the request was accepted (it was signed with that key), so a mismatch
    would mean the hub is not the one you think.
    """
    client = member_client(hub_url, key_path, member_id)
    me = client.me()
    local = key_fingerprint(load_private_key(key_path))
    me["local_key_matches"] = me.get("key_fingerprint") == local
    emit(output, me, [
        f"member: {me.get('id')} ({me.get('name')}, {me.get('kind')})",
        f"state: {me.get('state')}" + (f" ({me['state_reason']})" if me.get("state_reason")
                                      else ""),
        f"weight: {me.get('weight')}",
        f"key fingerprint: {me.get('key_fingerprint')}"
        + ("" if me["local_key_matches"] else f"  (MISMATCH: local key is {local})"),
    ])
