"""The documentation's shape: a short front page, links that resolve, one configuration reference.

The README is the front page (issue 12): what Lianfang is, the two commands, how the
parts fit and the security model; everything else lives in `docs/`. Hand-copied
configuration tables drifted from `hub/config.py` before, so the only place a
`LIANFANG_*` setting may appear in a table is the generated block in
docs/OPERATIONS.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS, ROOT / "bench" / "RESULTS.md"]
MAX_README_LINES = 250
LONG_DOCUMENT_LINES = 100
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"
# Variables of the test suite, not of the hub: they belong to the README's test table.
TEST_ONLY = ("LIANFANG_TEST_", "LIANFANG_REQUIRE_", "LIANFANG_FUZZ_")
LINK = re.compile(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)")
HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
SETTING_ROW = re.compile(r"^\|\s*`(LIANFANG_[A-Z0-9_]+)`")


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in HEADING.findall(text)}


def _outside_reference(text: str) -> str:
    if START in text:
        head, rest = text.split(START, 1)
        return head + rest.split(END, 1)[-1]
    return text


def test_readme_is_a_front_page() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    """Every relative link names a file that exists, and a heading of it after `#`."""
    broken = []
    for target, anchor in LINK.findall(page.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        path = (page.parent / target) if target else page
        if not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target}#{anchor}")
    assert broken == [], f"{page.name} has broken links: {broken}"


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_long_documents_have_a_table_of_contents(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    if len(text.splitlines()) > LONG_DOCUMENT_LINES:
        assert "\n## Contents\n" in text, f"{page.name} is long and has no '## Contents'"


def test_configuration_reference_has_one_generated_place() -> None:
    text = (ROOT / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")
    assert "\n## Configuration reference\n" in text
    assert text.count(START) == 1 and text.count(END) == 1
    section = text.split("\n## Configuration reference\n", 1)[1].split("\n## ", 1)[0]
    assert section.index(START) < section.index(END)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_hand_written_configuration_table(page: Path) -> None:
    rows = [
        match.group(1)
        for line in _outside_reference(page.read_text(encoding="utf-8")).splitlines()
        if (match := SETTING_ROW.match(line)) and not match.group(1).startswith(TEST_ONLY)
    ]
    assert rows == [], f"{page.name} tabulates settings by hand: {rows}"
