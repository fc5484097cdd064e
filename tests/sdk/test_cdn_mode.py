"""CDN mode end to end (issue 18): feeds on a plain static server, the hub unreachable.

The operator runs `lianfang-hub export-feeds` into a directory served by
Python's `http.server` (standing in for object storage or a CDN); the member
writes a consortium key bundle (`lianfang consortium-bundle`) for its
screeners; a screener given the mirror's URL, the root key and the bundle
syncs and screens while nothing answers at the hub's address.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from client_sdk.feed_client import FeedClient
from client_sdk.member_client import MemberClient
from client_sdk.screener import CallScreener
from hub.feeds.builder import build_feeds, keystore_for
from tests.helpers.hub import serve_hub
from tests.helpers.hubproc import cli_args, hub_env

FRAUD = "13812345678"
LIANFANG = str(Path(sys.executable).with_name("lianfang"))


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        return


@contextmanager
def _static_server(root: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_screener_syncs_from_a_static_mirror_with_the_hub_down(
    db_url: str, tmp_path: Path
) -> None:
    data, www = tmp_path / "data", tmp_path / "www"
    key_file = tmp_path / "member.pem"
    with serve_hub(db_url, data) as hub:
        with hub.app.app_context():
            root = keystore_for(hub.app).root_public_b64()
        (a_id, a_key), (b_id, b_key) = hub.new_member(), hub.new_member()
        for mid, key in ((a_id, a_key), (b_id, b_key)):
            MemberClient(hub.url, key, mid).report("phone", [FRAUD], "fraud", 95)
        build_feeds(hub.app)
        key_file.write_bytes(a_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        bundle = tmp_path / "consortium-keys.json"
        made = subprocess.run(
            [LIANFANG, "consortium-bundle", "--hub", hub.url, "--key", str(key_file),
             "--member-id", a_id, "--to", str(bundle)],
            capture_output=True, text=True, timeout=60, check=False)
        assert made.returncode == 0, made.stderr
        assert bundle.stat().st_mode & 0o077 == 0
        assert b"identity_key" not in bundle.read_bytes()
        exported = subprocess.run(cli_args(data, db_url, "export-feeds", str(www / "v1")),
                                  env=hub_env(), capture_output=True, text=True, timeout=120)
        assert exported.returncode == 0, exported.stderr
        hub_url = hub.url
    with pytest.raises(requests.ConnectionError):
        requests.get(hub_url + "/healthz", timeout=2)

    with _static_server(www) as mirror:
        # without key material the mirror alone cannot give the consortium key
        bare = FeedClient(mirror, root, tmp_path / "bare")
        refused = bare.sync()["phone-block"]
        assert not refused.ok and refused.error == "GET /v1/consortium-key: HTTP 404"

        screener_state = tmp_path / "screener"
        feeds = FeedClient(mirror, root, screener_state)
        assert feeds.import_consortium_keys(bundle.read_bytes()) == [1]
        results = feeds.sync()
        assert all(r.ok for r in results.values()), {f: r.error for f, r in results.items()}
        assert CallScreener(feeds).check(FRAUD).action == "block"
        assert CallScreener(feeds).check("13900001111").action == "allow"

        # the documented command line does the same
        cli_state = tmp_path / "cli-screener"
        synced = subprocess.run(
            [LIANFANG, "sync", "--hub", mirror, "--root-key", root, "--state-dir",
             str(cli_state), "--keys", str(bundle), "--token", "the-cdn-checks-none"],
            capture_output=True, text=True, timeout=60, check=False)
        assert synced.returncode == 0, synced.stderr
        checked = subprocess.run(
            [LIANFANG, "check", FRAUD, "--state-dir", str(cli_state), "--root-key", root],
            capture_output=True, text=True, timeout=60, check=False)
        assert "block" in checked.stdout, checked.stdout + checked.stderr
