"""End-to-end demo: a hub on its embedded default, three banks, signed feeds, a call screener.

Run with `make demo` (or `.venv/bin/python scripts/demo.py`). Everything is
real: the hub runs as a subprocess (`lianfang-hub init` + `serve`) on a free
loopback port with SQLite in a temporary data dir, the banks talk to it over
HTTP with signed requests, and the screener only trusts feeds it verified
against the hub's root key. The temporary directory is removed at the end
unless `--keep` is given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.helpers.processes import free_port, wait_healthy  # noqa: E402 - needs REPO on sys.path

OFFICIAL = "+86 10 9558 8000"  # a bank's published service line: reported `legit`
FRAUD = ["13812345678", "+86 139 8765 4321"]  # reported by two banks: block
SINGLE = "13711112222"  # one bank, high confidence: warn
CONTACT = "13655556666"  # the user's own contact, also reported once
TEMPLATE = (
    "本人强烈投诉贵行违规收取高额利息和服务费，要求三日内全额退还并赔偿精神损失，"
    "否则将向银保监会、消协和媒体反映，后果自负。"
)


def step(text: str) -> None:
    print(f"\n== {text}")


def hub_command() -> list[str]:
    """`lianfang-hub` from the venv when installed, else the same entry point from source."""
    installed = Path(sys.executable).with_name("lianfang-hub")
    if installed.exists():
        return [str(installed)]
    return [sys.executable, "-c", "from hub.cli import main; main()"]


def hub(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*hub_command(), *args], env=env, cwd=REPO, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"lianfang-hub {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def run_demo(work: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from client_sdk.feed_client import FeedClient
    from client_sdk.member_client import MemberClient
    from client_sdk.screener import CallScreener

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LIANFANG_DATA_DIR": str(work / "hub"),
        "LIANFANG_PUBLIC_URL": url,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env.pop("LIANFANG_DATABASE_URL", None)  # the embedded default: SQLite in the data dir

    step("lianfang-hub init (SQLite, keys and feeds under a temporary data dir)")
    for line in hub(env, "init").splitlines():
        if "password" not in line and "shown once" not in line:  # admin login unused here
            print("  " + line)
    root_key = hub(env, "root-key").splitlines()[0].strip()
    print(f"  root public key pinned by screeners: {root_key}")

    step(f"lianfang-hub serve on {url}")
    log = (work / "hub.log").open("wb")
    server = subprocess.Popen(
        [*hub_command(), "serve", "--port", str(port)],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(url, server)
        print("  healthy")
        screen_with(url, root_key, env, work, Ed25519PrivateKey, MemberClient, FeedClient,
                    CallScreener)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def screen_with(url: str, root_key: str, env: dict[str, str], work: Path, key_cls: Any,
                member_cls: Any, feed_cls: Any, screener_cls: Any) -> None:
    step("three banks apply with their Ed25519 keys; the admin approves them")
    banks: dict[str, Any] = {}
    keys: dict[str, Any] = {}
    for name, reg in (("Bank A", "91110000A"), ("Bank B", "91310000B"), ("Bank C", "91440000C")):
        keys[name] = key_cls.generate()
        client = member_cls(url, keys[name])
        member_id = client.apply(name, "bank", reg, f"security@{name[-1].lower()}.example.cn")
        print(f"  {name}: applied as {member_id} (pending)")
        print("  " + hub(env, "members", "approve", member_id).strip())
        banks[name] = client
    a, b, c = banks["Bank A"], banks["Bank B"], banks["Bank C"]
    epoch, _ = a.consortium_key()
    print(f"  consortium key epoch {epoch} handed to approved members only")

    step("reports: numbers are normalised and HMAC-hashed locally, never sent raw")
    for name, client, numbers in (("Bank A", a, [*FRAUD, SINGLE, "not a number"]),
                                  ("Bank B", b, [*FRAUD, CONTACT])):
        result = client.report("phone", numbers, "fraud", 95)
        print(f"  {name}: accepted {result.accepted}, rejected locally {result.errors}")
    for name, client in (("Bank A", a), ("Bank C", c)):
        result = client.report("phone", [OFFICIAL], "legit", 90)
        print(f"  {name}: reported its service line as legit (accepted {result.accepted})")
    again = a.report("phone", [*FRAUD, SINGLE, "not a number"], "fraud", 95)
    print(f"  Bank A retried the same batch: same answer replayed (batch {again.batch_ids})")

    step("complaint case: the same templated complaint seen by two banks")
    for name, client, phone, ref in (("Bank A", a, "13900001111", "A-2026-117"),
                                     ("Bank C", c, "13900001111", "C-88412")):
        client.report_case([("phone", phone), ("complaint_text", TEMPLATE)], case_ref=ref)
        print(f"  {name}: case {ref} (phone HMAC + complaint SimHash)")

    step("lianfang-hub build-feeds")
    for line in hub(env, "build-feeds").splitlines():
        print("  " + line)

    step("a call screener syncs the phone feeds with a reader token, verifying every signature")
    token = c.mint_reader_token("demo-screener")
    feeds = feed_cls(url, root_key, work / "screener", token=token,
                     feeds=["phone-block", "phone-warn", "phone-allow"])
    for feed, result in feeds.sync().items():
        state = f"v{result.version}" if result.ok else f"FAILED {result.error_code}"
        print(f"  {feed}: {state}")

    step("Bank C reads complaint groups with its own signature (reader tokens cannot)")
    member_feeds = feed_cls(url, root_key, work / "bank-c", member_id=c.member_id,
                            private_key=keys["Bank C"], feeds=["complaint-groups"])
    for feed, result in member_feeds.sync().items():
        state = f"v{result.version}" if result.ok else f"FAILED {result.error_code}"
        print(f"  {feed}: {state}")
    groups = member_feeds.view("complaint-groups")
    if groups is not None:
        for record in groups.records:
            print(f"  complaint group {record['group_id']}: action={record['action']}, "
                  f"{record['member_count']} members, {len(record['indicators'])} indicators")

    step("screening calls (contacts, allowlist, block, warn, quiet hours 22:00-08:00)")
    screener = screener_cls(feeds, contacts=[CONTACT], quiet_hours=("22:00", "08:00"))
    day = datetime(2026, 11, 25, 10, 0)
    night = datetime(2026, 11, 25, 23, 30)
    calls = [
        (FRAUD[0], day), (FRAUD[1], night), (SINGLE, day), (OFFICIAL, night),
        (CONTACT, night), ("13500009999", day), ("13500009999", night), ("12345", day),
    ]
    for number, at in calls:
        verdict = screener.check(number, at=at)
        print(f"  {number:>18} at {at:%H:%M} -> {verdict.action:<7} {', '.join(verdict.reasons)}"
              f"{'  (stale)' if verdict.stale else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="Keep the temporary directory.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lianfang-demo-"))
    try:
        run_demo(work)
        print(f"\ndone. (work dir {work}{' kept' if args.keep else ' removed'})")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
