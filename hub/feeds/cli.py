"""`lianfang-hub` feed commands: build, keys, rotation, static export for a CDN."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask

from hub.cli import main, pass_app
from hub.feeds import publisher as pub
from hub.feeds.builder import ALL_FEEDS, build_feeds, keystore_for
from schemas.atomicfile import atomic_write
from schemas.canonical import canonical_json
from schemas.timefmt import utcnow


@main.command("build-feeds")
@pass_app
def build_feeds_cmd(app: Flask) -> None:
    """Build every feed now (waits for nobody: exits 1 if another build holds the lease)."""
    result = build_feeds(app)
    if result.busy:
        raise click.ClickException("another feed build is running; try again shortly")
    for feed, version in sorted(result.published.items()):
        click.echo(f"published {feed} v{version}")
    for feed in result.refreshed:
        click.echo(f"refreshed {feed}")
    if not result.published and not result.refreshed:
        click.echo("no changes")


@main.command("worker")
@click.option("--consumers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Merge consumers in this process (threads; PostgreSQL shares the "
                   "queue between any number of them, SQLite has one writer).")
@pass_app
def worker(app: Flask, consumers: int) -> None:
    """Run merge consumers until SIGTERM/SIGINT (the hub's own consumer can then be
    turned off with LIANFANG_MERGE_CONSUMER=off; docs/OPERATIONS.md, "Scale-out")."""
    import signal
    import threading

    from hub.feeds.scheduler import MergeConsumer

    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    threads = [
        MergeConsumer(app, use_lease=False, name=f"merge-consumer-{i}") for i in range(consumers)
    ]
    for thread in threads:
        thread.start()
    click.echo(f"worker: {consumers} merge consumer(s) running; SIGTERM stops them", err=True)
    while not done.wait(0.5):
        if not any(thread.is_alive() for thread in threads):
            raise click.ClickException("every merge consumer stopped")
    for thread in threads:
        thread.stop()
    click.echo("worker: stopped", err=True)


@main.command("root-key")
@click.option("--metadata", is_flag=True,
              help="Print the root's self-signed statement (JSON, with its expiry) instead: "
                   "screeners pinned to it refuse the root once it expires.")
@pass_app
def root_key(app: Flask, metadata: bool) -> None:
    """Print the root public key screeners pin (base64) and its fingerprint."""
    ks = keystore_for(app)
    click.echo(canonical_json(ks.root_metadata()).decode() if metadata
               else ks.root_public_b64())
    click.echo(f"fingerprint: {ks.root_fingerprint()}  (root version {ks.root_version()})",
               err=True)


@main.command("rotate-feed-key")
@click.option("--overlap-hours", default=24, show_default=True, type=click.IntRange(0, 24 * 90),
              help="How long the old feed key stays in keys.json.")
@pass_app
def rotate_feed_key(app: Flask, overlap_hours: int) -> None:
    """Start signing manifests with a new feed key (the next build re-signs them)."""
    kid = keystore_for(app).rotate_feed_key(timedelta(hours=overlap_hours))
    click.echo(f"new feed key {kid}; old key announced for {overlap_hours} h more")


@main.command("rotate-root-key")
@click.confirmation_option(prompt="Rotate the root key? Screeners follow via roots.json.")
@pass_app
def rotate_root_key(app: Flask) -> None:
    """Replace the root key; the new one is signed by the old (roots.json)."""
    ks = keystore_for(app)
    kid = ks.rotate_root_key()
    click.echo(f"new root key {kid} (version {ks.root_version()}); pin: {ks.root_public_b64()}")


@main.command("export-feeds")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@pass_app
def export_feeds(app: Flask, target: Path) -> None:
    """Copy the feeds as static files laid out like `/v1/` (for object storage or a CDN).

    TARGET/keys.json, TARGET/roots.json, TARGET/feeds/<feed>/manifest.json and
    TARGET/feeds/<feed>/artifacts/*.lfa. Artifacts are copied before manifests,
    so a sync tool that uploads in this order never exposes a dangling manifest.
    """
    from hub import get_config
    from hub.api.feeds import keyset_lifetime

    cfg = get_config(app)
    ks = keystore_for(app)
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for feed in ALL_FEEDS:
        paths = pub.feed_paths(cfg.feeds_dir, feed)
        envelope = pub.read_manifest(paths)
        if envelope is None:
            continue
        out = pub.FeedPaths(target / "feeds" / feed)
        out.artifacts.mkdir(parents=True, exist_ok=True)
        for name in sorted(pub.referenced(envelope["signed"])):
            if not (out.artifacts / name).exists():
                shutil.copyfile(paths.artifacts / name, out.artifacts / name)
        atomic_write(out.manifest, pub.manifest_bytes(envelope))
        count += 1
    atomic_write(target / "keys.json",
                 canonical_json(ks.keyset_envelope(utcnow(), keyset_lifetime())))
    atomic_write(target / "roots.json", canonical_json(ks.roots_document()))
    click.echo(json.dumps({"exported_feeds": count, "target": str(target)}))
