"""Reading the files banks have: CSV in UTF-8, UTF-8 with BOM, GBK or GB18030, any
delimiter, or an Excel workbook (.xlsx), one column of values per file.

Why these rules (issue 19): Excel on Chinese Windows saves CSV as GBK, which
the old reader aborted on; a wrong `--column` silently read the first column.
Now the encoding is detected (or forced with `--encoding`), and an unknown
column is an error that lists the file's columns.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from client_sdk.cli.common import CliError

DEFAULT_COLUMN = "number"
_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


@dataclass(frozen=True)
class Rows:
    """The values read, with the file line (or sheet row) each came from."""

    values: list[tuple[int, str]]
    encoding: str | None  # None for xlsx
    columns: list[str]  # the header row, or empty when the file has none


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding name): forced, else BOM, UTF-8, GBK, GB18030, then charset-normalizer.

    GBK and GB18030 are tried by strict decoding before any guess: they are
    what Chinese Excel writes, and a statistical guess on a short file of
    digits and a few Chinese headers can pick a wrong CJK code page.
    """
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise CliError(f"unknown encoding {encoding!r}") from None
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise CliError(f"the file is not valid {encoding} (byte {exc.start}); "
                           "leave --encoding out to detect it") from None
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "utf-8-sig"
    for name in ("utf-8", "gbk", "gb18030"):
        try:
            return data.decode(name), name
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data[:_SNIFF_BYTES * 4]).best()
    if best is None:
        raise CliError("cannot tell the file's encoding; pass --encoding (e.g. gbk, utf-8)")
    try:
        return data.decode(best.encoding), best.encoding
    except UnicodeDecodeError:
        raise CliError(f"the file looks like {best.encoding} but does not decode; "
                       "pass --encoding") from None


def _delimiter(text: str, delimiter: str | None) -> str:
    if delimiter is not None:
        chosen = _DELIMITER_NAMES.get(delimiter.lower(), delimiter)
        if len(chosen) != 1:
            raise CliError(f"--delimiter must be one character (or tab), not {delimiter!r}")
        return chosen
    try:
        return csv.Sniffer().sniff(text[:_SNIFF_BYTES], delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _cell(value: Any) -> str:
    """A spreadsheet cell as text: 13800138000.0 (a number cell) reads as 13800138000."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _pick(rows: list[tuple[int, list[str]]], column: str, explicit: bool) -> Rows:
    """Choose the column: a first row naming it is the header; a first row without
    digits is a header too, and then a column it does not name is an error."""
    if not rows:
        return Rows([], None, [])
    first_line, first = rows[0]
    names = [cell.strip() for cell in first]
    lowered = [name.lower() for name in names]
    is_header = column.lower() in lowered or not any(ch.isdigit() for ch in "".join(names))
    if is_header:
        if column.lower() not in lowered:
            shown = ", ".join(repr(n) for n in names if n) or "(none)"
            raise CliError(f"no column {column!r} in the file; its columns are: {shown} "
                           "(choose one with --column)")
        index = lowered.index(column.lower())
        body = rows[1:]
    elif explicit:
        raise CliError(f"no column {column!r}: the first row ({first_line}) is data, not a "
                       "header; add a header row or leave --column out to read column 1")
    else:
        index, names, body = 0, [], rows
    values = [(line, row[index].strip() if index < len(row) else "") for line, row in body]
    return Rows(values, None, names)


def read_csv(path: Path, column: str = DEFAULT_COLUMN, *, explicit: bool = False,
             encoding: str | None = None, delimiter: str | None = None) -> Rows:
    text, used = decode(path.read_bytes(), encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text, delimiter))
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise CliError(f"{path}: line {reader.line_num}: {exc}") from None
    picked = _pick(rows, column, explicit)
    return Rows(picked.values, used, picked.columns)


def read_xlsx(path: Path, column: str = DEFAULT_COLUMN, *, explicit: bool = False,
              sheet: str | None = None) -> Rows:
    try:
        import openpyxl
    except ImportError:
        raise CliError("reading .xlsx needs openpyxl: pip install 'lianfang[xlsx]'") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a bad file
        raise CliError(f"{path}: not a readable .xlsx workbook ({type(exc).__name__})") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise CliError(f"no sheet {sheet!r}; the workbook has: {', '.join(book.sheetnames)}")
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        rows = [
            (number, [_cell(v) for v in values])
            for number, values in enumerate(ws.iter_rows(values_only=True), start=1)
            if any(_cell(v) for v in values)
        ]
    finally:
        book.close()
    return _pick(rows, column, explicit)


def read_values(path: Path, column: str, *, explicit: bool, encoding: str | None,
                delimiter: str | None, sheet: str | None) -> Rows:
    """One column of `path` (CSV or .xlsx by its suffix)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return read_xlsx(path, column, explicit=explicit, sheet=sheet)
    return read_csv(path, column, explicit=explicit, encoding=encoding, delimiter=delimiter)


def import_options(func: Any) -> Any:
    """--column, --encoding, --delimiter, --sheet: how to read a bank's file."""
    for option in reversed([
        click.option("--column", default=DEFAULT_COLUMN, show_default=True,
                     help="Header of the column to read (a file without a header: column 1)."),
        click.option("--encoding", help="Force the CSV encoding (default: detect UTF-8, "
                     "UTF-8 with BOM, GBK, GB18030, then guess)."),
        click.option("--delimiter", help="CSV delimiter, one character or `tab` "
                     "(default: detect among , ; tab |)."),
        click.option("--sheet", help="Worksheet of an .xlsx file (default: the first)."),
    ]):
        func = option(func)
    return func


def column_explicit() -> bool:
    """True when the user typed --column (then a file without that header is an error)."""
    source = click.get_current_context().get_parameter_source("column")
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")
