"""The feed builder on SQLite and PostgreSQL: journal → versions, locking, crash safety."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask
from sqlalchemy import func, select

from hub import get_config
from hub.db import get_db
from hub.feeds import publisher as pub
from hub.feeds.builder import build_feeds, keystore_for, sync_manifests
from hub.models.feed import FeedState, FeedVersion
from hub.models.feed_change import FeedChange
from schemas import artifact as codec
from schemas.envelope import verify_envelope
from schemas.keys import b64decode, key_id
from schemas.manifest import chain_digest, key_set_digest, phone_key
from schemas.timefmt import utcnow

REPO = Path(__file__).resolve().parents[2]


def value(i: int) -> str:
    return hashlib.sha256(f"phone:{i}".encode()).hexdigest()


def journal(app: Flask, feed: str, ops: list[tuple[str, str]]) -> None:
    """Append journal rows the way the reports part does (same table, same columns)."""
    with get_db(app).new_session() as session:
        for v, op in ops:
            session.add(FeedChange(feed=feed, value=v, op=op, created_at=utcnow()))
        session.commit()


def live_signed(app: Flask, feed: str, now: datetime | None = None) -> dict[str, Any]:
    """Read the served manifest file and verify it from the pinned root through keys.json."""
    ks = keystore_for(app)
    raw = b64decode(ks.root_public_b64())
    root = {key_id(raw): Ed25519PublicKey.from_public_bytes(raw)}
    keyset = verify_envelope(ks.keyset_envelope(now or utcnow(), timedelta(days=1)), root)
    feed_keys = {k["keyid"]: Ed25519PublicKey.from_public_bytes(b64decode(k["public_key"]))
                 for k in keyset["feed_keys"]}
    paths = pub.feed_paths(get_config(app).feeds_dir, feed)
    return verify_envelope(json.loads(paths.manifest.read_bytes()), feed_keys)


def rebuilt_keys(app: Flask, signed: dict[str, Any]) -> np.ndarray:
    paths = pub.feed_paths(get_config(app).feeds_dir, signed["feed"])
    keys = None
    for ref in [signed["snapshot"], *signed["deltas"]]:
        data = paths.artifact(ref["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == ref["sha256"]
        art = codec.decode_artifact(data)
        keys = art.keys if art.type == codec.SNAPSHOT else codec.apply_key_delta(
            keys, art.keys, art.removes)
    assert keys is not None
    return keys


def versions(app: Flask, feed: str) -> list[int]:
    with get_db(app).new_session(write=False) as session:
        return list(session.scalars(
            select(FeedVersion.version).where(FeedVersion.feed == feed)
            .order_by(FeedVersion.version)))


def test_first_build_publishes_every_feed_and_verifies(hub_app: Flask) -> None:
    result = build_feeds(hub_app)
    assert result.published == {"phone-block": 1, "phone-warn": 1, "phone-allow": 1,
                                "complaint-groups": 1}
    signed = live_signed(hub_app, "phone-block")
    assert signed["entry_count"] == 0 and signed["prev_manifest_sha256"] is None
    assert [e["epoch"] for e in signed["key_epochs"]] == [1]
    assert live_signed(hub_app, "complaint-groups")["key_epochs"] == []
    again = build_feeds(hub_app)
    assert again.published == {} and again.refreshed == []
    assert versions(hub_app, "phone-block") == [1]


def test_net_changes_versions_and_chain(hub_app: Flask) -> None:
    build_feeds(hub_app)
    v1 = live_signed(hub_app, "phone-block")
    journal(hub_app, "phone-block", [(value(1), "add"), (value(2), "add"), (value(3), "add"),
                                     (value(3), "remove")])
    journal(hub_app, "phone-warn", [(value(9), "add")])
    assert build_feeds(hub_app).published == {"phone-block": 2, "phone-warn": 2}
    v2 = live_signed(hub_app, "phone-block")
    assert v2["version"] == 2 and v2["prev_manifest_sha256"] == chain_digest(v1)
    expected = sorted(phone_key(value(i)) for i in (1, 2))
    assert rebuilt_keys(hub_app, v2).tolist() == expected
    assert v2["set_digest"] == key_set_digest(np.array(expected, dtype=np.uint64))
    assert v2["entry_count"] == 2

    # add-then-remove of a listed value, re-adding an already listed one: no net change
    journal(hub_app, "phone-block", [(value(1), "remove"), (value(1), "add"), (value(2), "add")])
    assert build_feeds(hub_app).published == {}
    assert live_signed(hub_app, "phone-block")["version"] == 2

    journal(hub_app, "phone-block", [(value(1), "remove"), (value(4), "add")])
    assert build_feeds(hub_app).published == {"phone-block": 3}
    v3 = live_signed(hub_app, "phone-block")
    assert v3["prev_manifest_sha256"] == chain_digest(v2)
    assert rebuilt_keys(hub_app, v3).tolist() == sorted(phone_key(value(i)) for i in (2, 4))
    assert versions(hub_app, "phone-block") == [1, 2, 3]
    with get_db(hub_app).new_session(write=False) as session:
        state = session.get(FeedState, "phone-block")
        assert state is not None and state.version == 3 and state.entry_count == 2
        top = session.scalar(select(func.max(FeedChange.id)))
        assert state.last_change_id == top


def test_aging_manifest_is_refreshed_not_republished(hub_app: Flask) -> None:
    now = utcnow()
    build_feeds(hub_app, now=now)
    before = live_signed(hub_app, "phone-warn", now)
    assert build_feeds(hub_app, now=now + timedelta(hours=11)).refreshed == []
    later = now + timedelta(hours=13)
    result = build_feeds(hub_app, now=later)
    assert sorted(result.refreshed) == sorted(["phone-block", "phone-warn", "phone-allow",
                                               "complaint-groups"])
    after = live_signed(hub_app, "phone-warn", later)
    assert after["version"] == before["version"]
    assert chain_digest(after) == chain_digest(before)
    assert after["issued_at"] > before["issued_at"]


def test_feed_key_rotation_resigns_and_keeps_old_verifiable(hub_app: Flask) -> None:
    now = utcnow()
    build_feeds(hub_app, now=now)
    ks = keystore_for(hub_app)
    paths = pub.feed_paths(get_config(hub_app).feeds_dir, "phone-block")
    old_envelope = json.loads(paths.manifest.read_bytes())
    ks.rotate_feed_key(timedelta(hours=24), now=now)
    # through the overlap the manifest a client already holds still verifies
    during = now + timedelta(hours=1)
    live_signed(hub_app, "phone-block", during)
    result = build_feeds(hub_app, now=during)
    assert "phone-block" in result.refreshed
    new_envelope = json.loads(paths.manifest.read_bytes())
    assert new_envelope["signatures"][0]["keyid"] == ks.current_feed_keyid()
    assert old_envelope["signatures"][0]["keyid"] != ks.current_feed_keyid()
    assert chain_digest(new_envelope["signed"]) == chain_digest(old_envelope["signed"])
    live_signed(hub_app, "phone-block", now + timedelta(hours=30))


def test_concurrent_builders_in_threads_publish_one_version(hub_app: Flask) -> None:
    build_feeds(hub_app)
    journal(hub_app, "phone-block", [(value(i), "add") for i in range(50)])
    barrier = threading.Barrier(4)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(build_feeds(hub_app))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum("phone-block" in r.published for r in results) == 1
    assert versions(hub_app, "phone-block") == [1, 2]
    assert live_signed(hub_app, "phone-block")["entry_count"] == 50


def _builder_script(db_url: str, data_dir: Path, body: str) -> str:
    return textwrap.dedent(f"""
        import json, os, signal, sys
        sys.path.insert(0, {str(REPO)!r})
        from hub import create_app
        from hub.feeds import builder, publisher
        app = create_app({{"database_url": {db_url!r}, "data_dir": {str(data_dir)!r},
                          "scheduler": False}})
    """) + textwrap.dedent(body)


def _run(script: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", script], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_concurrent_builders_in_processes_publish_one_version(
    hub_app: Flask, db_url: str
) -> None:
    build_feeds(hub_app)
    journal(hub_app, "phone-warn", [(value(i), "add") for i in range(30)])
    script = _builder_script(db_url, get_config(hub_app).data_dir, """
        print(json.dumps(builder.build_feeds(app).as_dict()))
    """)
    procs = [_run(script) for _ in range(3)]
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
        outputs.append(json.loads(out.decode().strip().splitlines()[-1]))
    assert sum("phone-warn" in o["published"] for o in outputs) == 1
    assert versions(hub_app, "phone-warn") == [1, 2]
    assert live_signed(hub_app, "phone-warn")["entry_count"] == 30


@pytest.mark.parametrize("point", ["after_artifacts", "after_commit"])
def test_sigkill_mid_build_keeps_previous_manifest_valid(
    hub_app: Flask, db_url: str, point: str
) -> None:
    build_feeds(hub_app)
    journal(hub_app, "phone-block", [(value(1), "add")])
    build_feeds(hub_app)
    v2 = live_signed(hub_app, "phone-block")
    journal(hub_app, "phone-block", [(value(2), "add"), (value(1), "remove")])
    # Fault injection in a child process: SIGKILL right after the artifacts are
    # written (before the DB commit), or right before the manifest swap.
    hook = {
        "after_artifacts": """
            real = publisher.prepare_publish
            def crash(*a, **k):
                real(*a, **k)
                os.kill(os.getpid(), signal.SIGKILL)
            publisher.prepare_publish = crash
        """,
        "after_commit": """
            def crash(*a, **k):
                os.kill(os.getpid(), signal.SIGKILL)
            publisher.install_manifest = crash
        """,
    }[point]
    script = _builder_script(db_url, get_config(hub_app).data_dir,
                             textwrap.dedent(hook) + "\nbuilder.build_feeds(app)\n")
    proc = _run(script)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -9, err.decode()

    # the live manifest is still v2, still verifies, and every file it names exists
    still = live_signed(hub_app, "phone-block")
    assert still == v2
    assert rebuilt_keys(hub_app, still).tolist() == [phone_key(value(1))]

    # the dead builder's lease blocks until it expires; then the next build recovers
    later = utcnow() + timedelta(minutes=11)
    result = build_feeds(hub_app, now=later)
    assert not result.busy
    v3 = live_signed(hub_app, "phone-block", later)
    assert v3["version"] == 3 and v3["prev_manifest_sha256"] == chain_digest(v2)
    assert rebuilt_keys(hub_app, v3).tolist() == [phone_key(value(2))]
    assert versions(hub_app, "phone-block") == [1, 2, 3]


def test_sync_rewrites_a_manifest_left_behind(hub_app: Flask) -> None:
    build_feeds(hub_app)
    paths = pub.feed_paths(get_config(hub_app).feeds_dir, "phone-allow")
    journal(hub_app, "phone-allow", [(value(5), "add")])
    build_feeds(hub_app)
    current = paths.manifest.read_bytes()
    paths.manifest.unlink()
    assert sync_manifests(hub_app) == ["phone-allow"]
    assert paths.manifest.read_bytes() == current
    assert sync_manifests(hub_app) == []


def test_retention_keeps_referenced_artifacts(hub_app: Flask) -> None:
    hub_app.config["LIANFANG"] = get_config(hub_app).with_overrides({"feed_snapshot_every": 1})
    now = utcnow()
    build_feeds(hub_app, now=now)
    paths = pub.feed_paths(get_config(hub_app).feeds_dir, "phone-block")
    first = pub.referenced(live_signed(hub_app, "phone-block", now))
    journal(hub_app, "phone-block", [(value(7), "add")])
    build_feeds(hub_app, now=now)
    later = now + timedelta(days=8)
    build_feeds(hub_app, now=later)  # refresh + garbage collection
    live = live_signed(hub_app, "phone-block", later)
    assert not any((paths.artifacts / n).exists() for n in first - pub.referenced(live))
    assert all((paths.artifacts / n).exists() for n in pub.referenced(live))

