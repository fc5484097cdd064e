"""`lianfang lookup`: how the consortium sees many values at once (batch lookup).

Values are hashed here and sent in signed batches of up to 10,000
(`MemberClient.lookup`); rows are shown by position or file line, never by
the raw value, so the output can go to logs like the `report` verb's.
"""

from __future__ import annotations

from pathlib import Path

import click

from client_sdk.cli.common import (
    describe,
    emit,
    finish,
    member_client,
    member_options,
    one_line_errors,
    output_option,
)
from client_sdk.cli.imports import import_options
from client_sdk.cli.reports import _values, kind_option


@click.command()
@click.argument("values", nargs=-1)
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the values from a CSV or .xlsx file instead.")
@kind_option
@import_options
@member_options
@output_option
@one_line_errors
def lookup(values: tuple[str, ...], file: Path | None, kind: str, column: str,
           encoding: str | None, delimiter: str | None, sheet: str | None, hub_url: str,
           key_path: Path, member_id: str, output: str) -> None:
    """Look up VALUES (or the values in --file): tier, score, categories, reporters.

    Each value counts once against the member's lookup budget. Exit 0 when
    every value could be looked up (listed or not), 1 when some were invalid,
    2 when none could.
    """
    rows = _values(values, file, column, encoding, delimiter, sheet)
    answers = member_client(hub_url, key_path, member_id).lookup(kind, [raw for _, raw in rows])
    where = "line" if file is not None else "value"
    results = []
    lines = []
    for (position, _), answer in zip(rows, answers, strict=True):
        results.append({where: position, **answer})
        listing = answer.get("listing")
        if answer["status"] == 200 and listing is not None:
            lines.append(f"{where} {position}: {listing['tier']}  score={listing['score']:.2f}  "
                         f"reporters={listing['reporter_count']}  "
                         f"categories={','.join(listing['categories']) or '-'}"
                         + ("  allowlisted" if listing.get("allowlisted") else "")
                         + ("  held" if listing.get("held") else ""))
        elif answer["status"] == 404:
            lines.append(f"{where} {position}: not listed")
        else:
            lines.append(f"{where} {position}: invalid: {describe(answer.get('error') or {})}")
    found = sum(1 for a in answers if a["status"] == 200)
    invalid = sum(1 for a in answers if a["status"] == 422)
    totals = {"values": len(answers), "listed": found,
              "not_listed": len(answers) - found - invalid, "invalid": invalid}
    lines.append(f"looked up {totals['values']}: listed {found}, not listed "
                 f"{totals['not_listed']}, invalid {invalid}")
    emit(output, {"results": results, "summary": totals}, lines)
    finish(len(answers) - invalid, invalid)
