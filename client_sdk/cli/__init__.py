"""`lianfang`: the member's command line, one verb per member operation (issue 19).

Verb groups live in small modules: `keys` (keygen, fingerprint, apply,
whoami), `reports` (report, retract, case, reports), `disputes` (dispute,
disputes), `numbers` (numbers register|list|withdraw), `tokens` (tokens
list|mint|revoke, mint-token), `lookup` (batch lookup) and `feeds` (sync,
check, status); file reading is `imports`, and
what they share (settings, errors, exit statuses) is `common`.

Settings come from flags, then the environment (``LIANFANG_HUB_URL``,
``LIANFANG_KEY``, ``LIANFANG_MEMBER_ID``, ``LIANFANG_STATE_DIR``,
``LIANFANG_ROOT_KEY``, ``LIANFANG_TOKEN``), then a TOML config file
(``--config``, ``$LIANFANG_CONFIG`` or ``~/.config/lianfang/config.toml``), so
a bank engineer types them once. Every verb has ``--help`` and ``--output
json``; failures are one line on stderr starting with ``Error:``; exit status
0 all accepted, 1 some rows rejected but others accepted, 2 the call failed.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import click

from client_sdk.cli import disputes, feeds, keys, lookup, numbers, reports, tokens
from client_sdk.cli.common import load_private_key

__all__ = ["cli", "load_private_key", "main"]

try:
    _VERSION = metadata.version("lianfang")
except metadata.PackageNotFoundError:  # running from a source tree
    _VERSION = "0.1.0"


@click.group()
@click.version_option(_VERSION)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML file with hub, key, member_id, state_dir, root_key "
                   "[env LIANFANG_CONFIG; default ~/.config/lianfang/config.toml].")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Lianfang (联防) member tools: report hashed numbers, look them up, sync signed feeds,
    screen calls."""
    ctx.obj = {"config_path": config_path}


for command in (
    keys.keygen, keys.fingerprint_command, keys.apply, keys.whoami,
    reports.report, reports.retract, reports.case, reports.reports,
    disputes.dispute, disputes.disputes,
    numbers.numbers,
    tokens.tokens, tokens.mint_token,
    lookup.lookup,
    feeds.sync, feeds.check, feeds.status, feeds.consortium_bundle, feeds.verify_audit,
):
    cli.add_command(command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
