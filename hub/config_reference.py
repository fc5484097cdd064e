"""The configuration reference in docs/OPERATIONS.md, generated from `HubConfig`.

Why generated: a hand-copied table drifts from the code (the README once had four
that contradicted each other). `python -m hub.config_reference` rewrites the part
of docs/OPERATIONS.md between the markers; `--check` exits 1 when it is out of
date, and tests/hub/test_config.py fails in that case too.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hub.config import NOT_HUB_SETTINGS, SETTINGS, TEST_PREFIX

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"
DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "OPERATIONS.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The Markdown between the markers: every setting, then the variables it ignores."""
    lines = [
        "| variable | type (what it accepts) | default | description |",
        "|---|---|---|---|",
    ]
    for spec in SETTINGS.values():
        lines.append(
            f"| `{spec.env}` | {_cell(spec.kind.accepts)} | {_cell(spec.shown_default())} "
            f"| {_cell(spec.description)} |"
        )
    lines += [
        "",
        "Any other `LIANFANG_*` variable stops the hub with an error, except "
        f"`{TEST_PREFIX}*` (test-suite knobs) and these, which other programs read:",
        "",
        "| variable | read by |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {_cell(reader)} |" for name, reader in NOT_HUB_SETTINGS.items()]
    return "\n".join(lines)


def splice(document: str, table: str) -> str:
    """`document` with `table` between the markers (ValueError when they are missing)."""
    head, start, rest = document.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the markers {START} … {END} are missing")
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    current = DOCUMENT.read_text(encoding="utf-8")
    wanted = splice(current, render())
    if "--check" in args:
        if current != wanted:
            print(f"{DOCUMENT} is out of date: run `python -m hub.config_reference`")
            return 1
        return 0
    if current != wanted:
        DOCUMENT.write_text(wanted, encoding="utf-8")
        print(f"updated {DOCUMENT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
