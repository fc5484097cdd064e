"""`lianfang-hub export-misp DIR`, `export-warninglist FILE`, `export-csv FILE`.

Offline exports of the phone lists for members' threat-intel tooling (keyed
tokens only, `hub.services.exports`; docs/MEMBERS.md). Serve the MISP feed
directory over HTTPS to members only: the tokens are useless without the
consortium key, but the lists' sizes and scores are still consortium business.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask

from hub.cli import main, pass_app
from hub.db import get_db
from hub.services.exports import csv_export, misp_warninglist, write_misp_feed
from schemas.timefmt import utcnow


def _write(dest: str, text: str) -> None:
    if dest == "-":
        sys.stdout.write(text)
    else:
        Path(dest).write_text(text, encoding="utf-8")


@main.command("export-misp")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@pass_app
def export_misp(app: Flask, dest: Path) -> None:
    """Write a MISP feed (manifest.json + one event per list) of the block and warn lists."""

    with get_db(app).new_session() as session:
        counts = write_misp_feed(session, dest, utcnow())
    click.echo(json.dumps({"misp_feed": str(dest), "attributes": counts}))


@main.command("export-warninglist")
@click.argument("dest", default="-")
@pass_app
def export_warninglist(app: Flask, dest: str) -> None:
    """Write the phone allowlist as a MISP warninglist JSON (DEST '-' is standard output)."""

    with get_db(app).new_session() as session:
        _write(dest, json.dumps(misp_warninglist(session, utcnow()), indent=1) + "\n")


@main.command("export-csv")
@click.argument("dest", default="-")
@pass_app
def export_csv(app: Flask, dest: str) -> None:
    """Write the phone block, warn and allow lists as CSV (tokens only; '-' is stdout)."""

    with get_db(app).new_session() as session:
        _write(dest, csv_export(session))
