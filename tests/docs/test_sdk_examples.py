"""The Python examples of docs/SDK.md, run in order against the real hub.

The page tells integrators to substitute four names (`HUB_URL`, `ROOT_KEY`, `TOKEN`,
`STATE_DIR`); this test provides exactly those, after two member banks reported the
page's example number through the real `MemberClient` and the feeds were built, then
executes every ```python block of the page in one namespace, as a reader pasting
them into one session would. An example that no longer matches the SDK fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from client_sdk.member_client import MemberClient
from hub.feeds.builder import build_feeds, keystore_for
from tests.helpers.hub import LiveHub

PAGE = Path(__file__).resolve().parents[2] / "docs" / "SDK.md"
GLOBALS = ("HUB_URL", "ROOT_KEY", "TOKEN", "STATE_DIR")
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
LISTED = ["13812345678", "+86 139 8765 4321"]  # the page's blocked number, and one more


def python_blocks(text: str) -> list[tuple[int, str]]:
    """Each ```python block with the page line its code starts on."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_the_page_names_the_globals_it_uses() -> None:
    text = PAGE.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    assert len(blocks) >= 4, "docs/SDK.md lost its examples"
    setup = text.split("## What you need", 1)[1].split("\n## ", 1)[0]
    code = "\n".join(source for _, source in blocks)
    for name in GLOBALS:
        assert f"`{name}`" in setup, f"'What you need' does not explain {name}"
        assert re.search(rf"\b{name}\b", code), f"no example uses {name}"


def test_sdk_examples_run_against_a_live_hub(
    live_hub: LiveHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    banks = [MemberClient(live_hub.url, key, member_id)
             for member_id, key in (live_hub.new_member(), live_hub.new_member())]
    for bank in banks:
        assert bank.report("phone", LISTED, "fraud", 95, wait=True).accepted == len(LISTED)
    build_feeds(live_hub.app)
    with live_hub.app.app_context():
        root_key = keystore_for(live_hub.app).root_public_b64()

    namespace: dict[str, Any] = {
        "__name__": "sdk_examples",
        "HUB_URL": live_hub.url,
        "ROOT_KEY": root_key,
        "TOKEN": banks[0].mint_reader_token("docs-example"),
        "STATE_DIR": str(tmp_path / "screener-state"),
    }
    try:
        for line, source in python_blocks(PAGE.read_text(encoding="utf-8")):
            padded = "\n" * (line - 1) + source  # tracebacks point at the page's lines
            exec(compile(padded, str(PAGE), "exec"), namespace)  # noqa: S102 - our own page
    finally:
        client = namespace.get("client")
        if client is not None:
            client.close()
    printed = capsys.readouterr().out
    assert "phone-block ok" in printed and "consortium_block" in printed
