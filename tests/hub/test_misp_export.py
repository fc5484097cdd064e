"""MISP feed, warninglist and CSV exports (`lianfang-hub export-*`) as a member loads them:
the feed through PyMISP's own feed tooling, keyed tokens only."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from pymisp import MISPEvent
from pymisp.tools import feed_meta_generator

from hub import get_config
from hub.cli import main
from tests.hub.exports_support import seed_lists


def _cli(hub: Any, *args: str) -> str:
    cfg = get_config(hub.app)
    result = CliRunner().invoke(
        main, ["--data-dir", str(cfg.data_dir), "--database-url", cfg.database_url, *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_misp_feed_loads_with_pymisp_and_carries_tokens_only(live_hub: Any,
                                                             tmp_path: Path) -> None:
    tokens = seed_lists(live_hub)
    feed_dir = tmp_path / "misp"
    summary = json.loads(_cli(live_hub, "export-misp", str(feed_dir)).strip().splitlines()[-1])
    assert summary["attributes"] == {"phone-block": 3, "phone-warn": 2}

    manifest = json.loads((feed_dir / "manifest.json").read_text())
    loaded: dict[str, set[str]] = {}
    for event_uuid in manifest:
        event = MISPEvent()
        event.load_file(str(feed_dir / f"{event_uuid}.json"))
        assert event.uuid == event_uuid
        assert event.manifest == {event_uuid: manifest[event_uuid]}
        feed = next(t.name for t in event.tags).split('"')[1]
        loaded[feed] = {a.value for a in event.attributes}
        assert {a.type for a in event.attributes} == {"text"}
        assert {a.to_ids for a in event.attributes} == {feed == "phone-block"}
    assert loaded == {"phone-block": tokens["phone-block"], "phone-warn": tokens["phone-warn"]}

    # PyMISP's generator rebuilds the same manifest from our event files.
    regenerated = tmp_path / "regen"
    shutil.copytree(feed_dir, regenerated)
    (regenerated / "manifest.json").unlink()
    feed_meta_generator(regenerated)
    assert json.loads((regenerated / "manifest.json").read_text()) == manifest
    hashes = (regenerated / "hashes.csv").read_text().splitlines()
    assert len(hashes) == 5

    # A second export is the same feed (stable uuids): MISP updates, never duplicates.
    again = tmp_path / "again"
    _cli(live_hub, "export-misp", str(again))
    assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in feed_dir.iterdir())


def test_allowlist_warninglist_and_csv(live_hub: Any, tmp_path: Path) -> None:
    tokens = seed_lists(live_hub, blocked=1, warned=1, allowed=2)
    target = tmp_path / "allow.json"
    _cli(live_hub, "export-warninglist", str(target))
    warninglist = json.loads(target.read_text())
    assert set(warninglist) >= {"name", "version", "description", "matching_attributes",
                                "type", "list"}
    assert warninglist["type"] == "string" and warninglist["matching_attributes"] == ["text"]
    assert set(warninglist["list"]) == tokens["phone-allow"]

    rows = list(csv.DictReader(io.StringIO(_cli(live_hub, "export-csv", "-"))))
    by_feed = {f: {r["token"] for r in rows if r["feed"] == f} for f in tokens}
    assert by_feed == tokens
    assert all(len(r["token"]) == 64 and r["key_epoch"] == "1" for r in rows)
    assert {r["tier"] for r in rows if r["feed"] == "phone-block"} == {"block"}
