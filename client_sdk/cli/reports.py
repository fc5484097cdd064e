"""Verbs that write or read the member's reports: report, retract, case, reports."""

from __future__ import annotations

import contextlib
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from client_sdk.cli.common import (
    CliError,
    describe,
    emit,
    finish,
    member_client,
    member_options,
    one_line_errors,
    output_option,
)
from client_sdk.cli.imports import Rows, column_explicit, import_options, read_values
from schemas.enums import Category, IndicatorKind, ReportState
from schemas.limits import MAX_PAGE_SIZE
from schemas.reports import MAX_BATCH_REPORTS

HASHED_KINDS = [k.value for k in IndicatorKind if k is not IndicatorKind.COMPLAINT_TEXT]
kind_option = click.option("--kind", default=IndicatorKind.PHONE.value, show_default=True,
                           type=click.Choice(HASHED_KINDS), help="What the values are.")
category_choice = click.Choice([c.value for c in Category])


_MASKED = re.compile(r" ?\*+[^\s)]*")
"""The masked value in a local message (`unparseable phone number ***bc`)."""


def reason_of(message: str) -> str:
    """The reason a row was rejected without its masked value, so equal reasons group."""
    return _MASKED.sub("", message)


def summary(rows: int, accepted: int, reasons: Counter[str], encoding: str | None,
            verb: str = "accepted") -> dict[str, Any]:
    return {"rows": rows, verb: accepted, "rejected": sum(reasons.values()),
            "rejected_by_reason": dict(sorted(reasons.items())), "encoding": encoding}


def summary_lines(s: dict[str, Any], verb: str = "accepted") -> list[str]:
    lines = [f"read {s['rows']} rows: {verb} {s[verb]}, rejected {s['rejected']}"
             + (f" (encoding {s['encoding']})" if s.get("encoding") else "")]
    lines += [f"  {count} × {reason}" for reason, count in s["rejected_by_reason"].items()]
    return lines


def file_rows(path: Path, column: str, encoding: str | None, delimiter: str | None,
              sheet: str | None) -> Rows:
    return read_values(path, column, explicit=column_explicit(), encoding=encoding,
                       delimiter=delimiter, sheet=sheet)


@contextlib.contextmanager
def _progress(total: int, hidden: bool) -> Iterator[Any]:
    if hidden:
        yield None
        return
    with click.progressbar(length=total, label="reporting", file=sys.stderr) as bar:
        yield bar


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@member_options
@click.option("--category", required=True, type=category_choice)
@click.option("--confidence", required=True, type=click.IntRange(1, 100))
@kind_option
@import_options
@click.option("--batch-size", default=MAX_BATCH_REPORTS, type=click.IntRange(1, MAX_BATCH_REPORTS))
@click.option("--no-progress", is_flag=True, help="No progress bar (for logs).")
@click.option("--wait", is_flag=True,
              help="Return only when the hub has merged every batch (listings updated).")
@output_option
@one_line_errors
def report(file: Path, hub_url: str, key_path: Path, member_id: str, category: str,
           confidence: int, kind: str, column: str, encoding: str | None,
           delimiter: str | None, sheet: str | None, batch_size: int, no_progress: bool,
           wait: bool, output: str) -> None:
    """Hash and report the values in FILE (CSV or .xlsx; raw values never leave this machine).

    Rejected rows are listed by line number with the reason, then a summary:
    rows read, accepted, rejected by reason. The hub acknowledges a batch when it
    is stored and merges it shortly after; with --wait the command returns once
    every batch is merged into the listings. Exit 0 when every row was accepted,
    1 when some were rejected, 2 when none was accepted.
    """
    rows = file_rows(file, column, encoding, delimiter, sheet)
    client = member_client(hub_url, key_path, member_id, batch_size=batch_size)
    accepted = 0
    batch_ids: list[str] = []
    problems: list[tuple[int, str]] = []
    with _progress(len(rows.values), no_progress or output == "json") as bar:
        for start in range(0, len(rows.values), batch_size):
            chunk = rows.values[start : start + batch_size]
            result = client.report(kind, [raw for _, raw in chunk], category, confidence)
            accepted += result.accepted
            batch_ids.extend(result.batch_ids)
            problems += [(chunk[i][0], describe(err)) for i, err in result.errors.items()]
            if bar is not None:
                bar.update(len(chunk))
    problems.sort()
    if wait and batch_ids:
        client.wait_merged(batch_ids)
    s = summary(len(rows.values), accepted, Counter(reason_of(m) for _, m in problems),
                rows.encoding)
    s["batches"] = {"ids": batch_ids, "state": "merged" if wait else "accepted"}
    if output == "json":
        emit(output, {**s, "rejected_rows": [{"line": ln, "reason": m} for ln, m in problems]})
    else:
        for line, message in problems:
            click.echo(f"line {line}: {message}", err=True)
        note = (f"merged {len(batch_ids)} batch(es)" if wait else
                f"stored {len(batch_ids)} batch(es); the hub merges them shortly "
                "(--wait waits for it)")
        emit(output, s, summary_lines(s))
        if batch_ids:
            click.echo(note, err=True)
    finish(accepted, len(problems))


@click.command()
@click.argument("values", nargs=-1)
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the values from a CSV or .xlsx file instead.")
@member_options
@kind_option
@click.option("--category", type=category_choice, help="Only this category (default: all).")
@import_options
@output_option
@one_line_errors
def retract(values: tuple[str, ...], file: Path | None, hub_url: str, key_path: Path,
            member_id: str, kind: str, category: str | None, column: str,
            encoding: str | None, delimiter: str | None, sheet: str | None,
            output: str) -> None:
    """Withdraw this member's reports on VALUES (or the values in --file).

    Values are hashed here with every epoch key the hub still accepts, so a
    report made before a key rotation is withdrawn too.
    """
    rows = _values(values, file, column, encoding, delimiter, sheet)
    answer = member_client(hub_url, key_path, member_id).retract(
        kind, [raw for _, raw in rows], category)
    emit(output, answer, [f"retracted {answer.get('retracted', 0)} report(s) on "
                          f"{len(rows)} value(s)"])


def _values(values: tuple[str, ...], file: Path | None, column: str, encoding: str | None,
            delimiter: str | None, sheet: str | None) -> list[tuple[int, str]]:
    """(position, raw) from the arguments or the file: exactly one of them."""
    if bool(values) == (file is not None):
        raise CliError("give the values as arguments or with --file (one of the two)")
    if file is not None:
        return file_rows(file, column, encoding, delimiter, sheet).values
    return list(enumerate(values, start=1))


@click.command()
@click.option("--indicator", "indicators", multiple=True, required=True, metavar="KIND:VALUE",
              help="An indicator of the episode, e.g. phone:13800138000 (2 or more).")
@click.option("--case-ref", help="Your own reference for the complaint (≤ 64 characters).")
@member_options
@output_option
@one_line_errors
def case(indicators: tuple[str, ...], case_ref: str | None, hub_url: str, key_path: Path,
         member_id: str, output: str) -> None:
    """Report indicators seen together in one complaint episode (a malicious complaint).

    Every indicator is hashed here; one that does not normalise fails the whole
    case before anything is sent (a case is one statement).
    """
    pairs: list[tuple[str, str]] = []
    for text in indicators:
        kind, sep, raw = text.partition(":")
        if not sep or kind not in HASHED_KINDS:
            raise CliError(f"--indicator must be KIND:VALUE with KIND one of "
                           f"{', '.join(HASHED_KINDS)}")
        pairs.append((kind, raw))
    answer = member_client(hub_url, key_path, member_id).report_case(pairs, case_ref=case_ref)
    emit(output, answer, [f"case {answer.get('case_id')} {answer.get('state', 'received')} "
                          f"({len(pairs)} indicators)"])


@click.command()
@member_options
@click.option("--state", type=click.Choice([s.value for s in ReportState]))
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, MAX_PAGE_SIZE))
@click.option("--offset", default=0, type=click.IntRange(0))
@output_option
@one_line_errors
def reports(hub_url: str, key_path: Path, member_id: str, state: str | None, limit: int,
            offset: int, output: str) -> None:
    """List this member's own reports as the hub holds them (hashed values)."""
    items = member_client(hub_url, key_path, member_id).reports(state, limit=limit,
                                                                offset=offset)
    lines = [f"{r['id']}  {r['kind']}  {r['value'][:16]}…  {r['category']}  "
             f"confidence={r['confidence']}  {r['state']}  expires={r['expires_at']}"
             for r in items]
    emit(output, {"items": items, "limit": limit, "offset": offset},
         lines or ["no reports"])
