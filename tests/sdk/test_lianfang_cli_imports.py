"""Bank files as they are: GBK, GB18030, UTF-8 with BOM, other delimiters, .xlsx, and a
wrong column name — each reported against the real hub through `lianfang report`."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from client_sdk.cli.imports import decode
from tests.helpers.cli import Bank, configured_bank, run, run_json

REPORT = ("--category", "fraud", "--confidence", "90")
# What Excel on Chinese Windows saves: a GBK header and names, numbers as text.
CHINESE_ROWS = "姓名,手机号,备注\n张三,13800138000,冒充客服\n李四,+86 139 0013 9000,贷款诈骗\n"


@pytest.fixture
def bank(live_hub: Any, tmp_path: Path) -> Bank:
    return configured_bank(live_hub, tmp_path / "cfg")


def _report(bank: Bank, path: Path, *extra: str) -> tuple[int, Any]:
    return run_json("report", str(path), *REPORT, *extra, env=bank.env)


def test_gbk_csv_from_chinese_excel(bank: Bank, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(CHINESE_ROWS.encode("gbk"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # the file the old reader aborted on
    code, doc = _report(bank, path, "--column", "手机号")
    assert code == 0, doc
    assert (doc["rows"], doc["accepted"], doc["encoding"]) == (2, 2, "gbk")


def test_gb18030_only_characters(bank: Bank, tmp_path: Path) -> None:
    text = CHINESE_ROWS.replace("张三", "𠀀三")  # outside GBK: needs GB18030's 4-byte form
    path = tmp_path / "gb18030.csv"
    path.write_bytes(text.encode("gb18030"))
    code, doc = _report(bank, path, "--column", "手机号")
    assert code == 0 and doc["encoding"] == "gb18030" and doc["accepted"] == 2


def test_utf8_bom_header_is_found(bank: Bank, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + "number,备注\n13800138000,x\n".encode())
    code, doc = _report(bank, path, "--column", "number")
    assert code == 0 and doc["encoding"] == "utf-8-sig" and doc["accepted"] == 1


def test_forced_encoding(bank: Bank, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(CHINESE_ROWS.encode("gbk"))
    code, doc = _report(bank, path, "--column", "手机号", "--encoding", "gb18030")
    assert code == 0 and doc["encoding"] == "gb18030"
    wrong = run("report", str(path), *REPORT, "--column", "手机号", "--encoding", "utf-8",
                env=bank.env)
    assert wrong.exit_code == 2 and "not valid utf-8" in wrong.stderr
    assert wrong.stderr.count("\n") == 1
    unknown = run("report", str(path), *REPORT, "--encoding", "klingon", env=bank.env)
    assert unknown.exit_code == 2 and "unknown encoding" in unknown.stderr


def test_delimiters_detected_and_forced(bank: Bank, tmp_path: Path) -> None:
    semi = tmp_path / "semi.csv"
    semi.write_text("name;number\na;13800138000\nb;13900139000\n")
    code, doc = _report(bank, semi)
    assert code == 0 and doc["accepted"] == 2
    tabbed = tmp_path / "tab.txt"
    tabbed.write_text("name\tnumber\na\t13700137000\n")
    code, doc = _report(bank, tabbed, "--delimiter", "tab")
    assert code == 0 and doc["accepted"] == 1
    bad = run("report", str(tabbed), *REPORT, "--delimiter", "ab", env=bank.env)
    assert bad.exit_code == 2 and "one character" in bad.stderr


def test_xlsx_workbook(bank: Bank, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "举报"
    sheet.append(["姓名", "手机号"])
    sheet.append(["张三", 13800138000])  # a number cell, as Excel stores it
    sheet.append(["李四", "+86 139 0013 9000"])
    sheet.append([None, None])  # an empty row is skipped
    sheet.append(["王五", "不是号码"])
    other = book.create_sheet("other")
    other.append(["number"])
    other.append(["13600136000"])
    path = tmp_path / "reports.xlsx"
    book.save(path)
    code, doc = _report(bank, path, "--column", "手机号")
    assert code == 1, doc  # two accepted, one rejected
    assert (doc["rows"], doc["accepted"], doc["rejected"]) == (3, 2, 1)
    assert [r["line"] for r in doc["rejected_rows"]] == [5] and doc["encoding"] is None
    code, doc = _report(bank, path, "--sheet", "other")
    assert code == 0 and doc["accepted"] == 1
    missing = run("report", str(path), *REPORT, "--sheet", "nope", env=bank.env)
    assert missing.exit_code == 2 and "举报, other" in missing.stderr
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a zip")
    assert run("report", str(junk), *REPORT, env=bank.env).exit_code == 2


def test_wrong_column_is_an_error_listing_the_columns(bank: Bank, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(CHINESE_ROWS.encode("gbk"))
    result = run("report", str(path), *REPORT, "--column", "phone", env=bank.env)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "no column 'phone'" in result.stderr
    assert "'姓名', '手机号', '备注'" in result.stderr
    # The default column is checked the same way when the file has a header...
    default = run("report", str(path), *REPORT, env=bank.env)
    assert default.exit_code == 2 and "no column 'number'" in default.stderr
    # ...and nothing was sent.
    assert run_json("reports", env=bank.env)[1]["items"] == []
    headerless = tmp_path / "plain.csv"
    headerless.write_text("13800138000\n13900139000\n")
    named = run("report", str(headerless), *REPORT, "--column", "number", env=bank.env)
    assert named.exit_code == 2 and "is data, not a header" in named.stderr
    code, doc = _report(bank, headerless)  # no --column: column 1 of every row
    assert code == 0 and doc["accepted"] == 2


def test_summary_counts_rejections_by_reason(bank: Bank, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("number\n13800138000\nabc\nxyz\n12\n13900139000\n")
    result = run("report", str(path), *REPORT, env=bank.env)
    assert result.exit_code == 1
    first, *reasons = result.stdout.strip().splitlines()
    assert first == "read 5 rows: accepted 2, rejected 3 (encoding utf-8)"
    assert reasons == ["  1 × invalid phone number (not a known service code)",
                       "  2 × unparseable phone number"]
    for raw in ("abc", "xyz"):
        assert raw not in result.output  # rows are named by line, never by raw value


GB18030_ONLY = CHINESE_ROWS.replace("张三", "𠀀三")


@pytest.mark.parametrize(("text", "encoding", "detected"), [
    (CHINESE_ROWS, "utf-8", "utf-8"),
    (CHINESE_ROWS, "utf-8-sig", "utf-8-sig"),
    (CHINESE_ROWS, "gbk", "gbk"),
    (CHINESE_ROWS, "gb18030", "gbk"),  # the same bytes: GBK is a subset of GB18030
    (GB18030_ONLY, "gb18030", "gb18030"),
])
def test_decode_round_trips(text: str, encoding: str, detected: str) -> None:
    assert decode(text.encode(encoding)) == (text, detected)
