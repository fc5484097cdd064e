"""`lianfang-hub` feed commands: build, root key, rotations, static export."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask

from hub import get_config
from hub.cli import main
from schemas.envelope import verified_signers, verify_envelope
from schemas.keys import b64decode, fingerprint, key_id


def _cli(app: Flask, *args: str, input: str | None = None) -> str:
    cfg = get_config(app)
    result = CliRunner().invoke(
        main, ["--data-dir", str(cfg.data_dir), "--database-url", cfg.database_url, *args],
        input=input, catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_build_rotate_and_export(hub_app: Flask, tmp_path: Path) -> None:
    out = _cli(hub_app, "root-key")
    pinned_b64 = out.splitlines()[0]
    raw = b64decode(pinned_b64, length=32)
    assert fingerprint(raw) in out
    pinned = {key_id(raw): Ed25519PublicKey.from_public_bytes(raw)}

    assert "published phone-block v1" in _cli(hub_app, "build-feeds")
    assert _cli(hub_app, "build-feeds").strip() == "no changes"
    assert "new feed key" in _cli(hub_app, "rotate-feed-key", "--overlap-hours", "2")
    assert "refreshed phone-block" in _cli(hub_app, "build-feeds")
    _cli(hub_app, "rotate-root-key", input="y\n")

    target = tmp_path / "cdn"
    summary = json.loads(_cli(hub_app, "export-feeds", str(target)).strip().splitlines()[-1])
    assert summary["exported_feeds"] == 4

    # a screener pinned to the original root follows roots.json, then keys.json
    chain = json.loads((target / "roots.json").read_bytes())
    assert len(chain) == 1
    new = chain[0]["signed"]
    new_key = {new["keyid"]: Ed25519PublicKey.from_public_bytes(b64decode(new["public_key"]))}
    assert verified_signers(chain[0], {**pinned, **new_key}) == set(pinned) | set(new_key)
    keyset = verify_envelope(json.loads((target / "keys.json").read_bytes()), new_key)
    assert len(keyset["feed_keys"]) == 2, "old feed key still inside its overlap"
    feed_keys = {k["keyid"]: Ed25519PublicKey.from_public_bytes(b64decode(k["public_key"]))
                 for k in keyset["feed_keys"]}
    for feed in ("phone-block", "phone-warn", "phone-allow", "complaint-groups"):
        envelope = json.loads((target / "feeds" / feed / "manifest.json").read_bytes())
        signed = verify_envelope(envelope, feed_keys)
        for ref in [signed["snapshot"], *signed["deltas"]]:
            data = (target / "feeds" / feed / ref["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == ref["sha256"]
        assert not (target / "feeds" / feed / ".state").exists()
    assert not any(p.suffix == ".pem" for p in target.rglob("*"))
