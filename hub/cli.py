"""`lianfang-hub`: set up, run and administer a hub from the shell.

Global options `--data-dir` and `--database-url` fall back to `LIANFANG_DATA_DIR`
and `LIANFANG_DATABASE_URL`. Every failure prints one line (`Error: …`) and
exits non-zero. Other parts add commands through `hub/cli_commands/` (see there).
"""

from __future__ import annotations

import functools
import importlib
import json
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from flask import Flask

from hub.config import ConfigError, resolve_config
from hub.services import audit as audit_service
from hub.services.audit import verify_chain
from hub.services.consortium_keys import epoch_states
from hub.services.key_rotation import rotate
from hub.services.membership import list_members, transition
from hub.services.passwords import generate_password
from hub.services.provenance import count_reports, verify
from schemas.enums import MemberState

F = TypeVar("F", bound=Callable[..., Any])


class _OneLineErrors(click.Group):
    """Turn any unexpected exception into a one-line click error (exit 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
            first_line = (str(exc).splitlines() or [""])[0]
            raise click.ClickException(f"{type(exc).__name__}: {first_line}") from exc


class CliState:
    """What the global options chose; builds the app once, on first use.

    The configuration is read and checked when the state is made, before any
    command runs: a malformed or unknown `LIANFANG_*` variable stops every command
    with one line naming it (ConfigError), not half-way through its work.
    """

    def __init__(self, data_dir: str | None, database_url: str | None) -> None:
        overrides: dict[str, Any] = {}
        if data_dir:
            overrides["data_dir"] = Path(data_dir)
        if database_url:
            overrides["database_url"] = database_url
        self.config = resolve_config(overrides)
        self.scheduler = False
        self._app: Flask | None = None

    def app(self) -> Flask:
        """The app; its scheduler only runs when a command (`serve`) asked for it."""
        if self._app is None:
            from hub import create_app

            scheduler = self.scheduler and self.config.scheduler
            self._app = create_app(self.config.with_overrides({"scheduler": scheduler}))
        return self._app


def pass_app(fn: F) -> F:
    """Decorator for commands: call `fn(app, ...)` inside the app context."""

    @functools.wraps(fn)
    @click.pass_context
    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        app = ctx.find_object(CliState).app()  # type: ignore[union-attr]
        with app.app_context():
            return fn(app, *args, **kwargs)

    return cast(F, wrapper)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lianfang")
    except PackageNotFoundError:
        return "unknown"


@click.group(cls=_OneLineErrors)
@click.version_option(
    _version(), "--version", prog_name="lianfang-hub", message="%(prog)s %(version)s"
)
@click.option("--data-dir", envvar="LIANFANG_DATA_DIR", help="Data directory (default ./var).")
@click.option("--database-url", envvar="LIANFANG_DATABASE_URL", help="SQLAlchemy database URL.")
@click.pass_context
def main(ctx: click.Context, data_dir: str | None, database_url: str | None) -> None:
    """Lianfang hub administration."""
    try:
        ctx.obj = CliState(data_dir, database_url)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _revision(app: Flask) -> str | None:
    from sqlalchemy import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from hub import get_config
    from hub.db import current_revision

    url = get_config(app).database_url
    if url.startswith("sqlite") and not Path(make_url(url).database or "").exists():
        return None
    try:
        return current_revision(url)
    except SQLAlchemyError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        raise click.ClickException(
            f"cannot open the database {shown}: {type(exc).__name__}"
        ) from None


def _require_initialised(app: Flask) -> None:
    if _revision(app) is None:
        raise click.ClickException("the database is not initialised; run `lianfang-hub init`")


def _require_current_schema(app: Flask) -> None:
    """Refuse to serve a database at another revision: one line saying what to run."""
    from hub.schema_state import SchemaState, expected_revision

    state = SchemaState(_revision(app), expected_revision())
    if not state.ok:
        raise click.ClickException(state.problem or "")


@main.command()
@click.option(
    "--if-needed",
    is_flag=True,
    help="Do nothing (exit 0) when already initialised; exit 1 asking for `migrate` "
    "when the schema is behind.",
)
@click.option("--host", default=None, help="Where `serve` will listen (for the printed URL).")
@click.option("--port", default=None, type=int, help="Port `serve` will use (for the URL).")
@pass_app
def init(app: Flask, if_needed: bool, host: str | None, port: int | None) -> None:
    """Migrate the database, create keys, consortium epoch 1 and the first admin.

    Without --if-needed, running it again migrates to the latest schema and
    creates whatever is missing (keys, epoch); it never replaces a key.
    """
    from hub import get_config
    from hub.bootstrap import initialize
    from hub.schema_state import SchemaState, expected_revision

    cfg = get_config(app)
    current = _revision(app)
    if if_needed and current is not None:
        state = SchemaState(current, expected_revision())
        if not state.ok:
            raise click.ClickException(state.problem or "")
        click.echo("already initialised; nothing to do")
        return
    if current is not None:
        click.echo("database already initialised; migrating to the latest schema")
    result = initialize(app)
    if result.admin_password:
        click.echo(
            f"created admin {result.admin_username!r} with password: {result.admin_password}"
        )
        click.echo("  (shown once; change it by creating another admin)")
    if result.master_key_created:
        click.echo(f"created master key {cfg.keys_dir / 'master.key'}")
    if result.epoch_created:
        click.echo("created consortium key epoch 1")
    url = hub_url(app, host, port)
    click.echo(f"data dir:  {cfg.data_dir.resolve()}")
    click.echo(f"hub URL:   {url}  (health: {url}/healthz, ready: {url}/readyz)")
    click.echo(f"admin API: {url}/v1/admin/login")


def hub_url(app: Flask, host: str | None, port: int | None) -> str:
    """The URL to print: the configured LIANFANG_PUBLIC_URL, else http://host:port.

    An explicit --host/--port wins: the operator is telling us where `serve` will run.
    """
    from hub import get_config
    from hub.config import HubConfig

    configured = get_config(app).public_url.rstrip("/")
    if host is None and port is None and configured != HubConfig().public_url:
        return configured
    return f"http://{host or '127.0.0.1'}:{port or 8000}"


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the hub with werkzeug's threaded server (embedded default).

    Logs go to stderr as configured by LIANFANG_LOG_LEVEL / LIANFANG_LOG_FORMAT
    (the same set-up gunicorn gets from hub/gunicorn_conf.py).

    Production: gunicorn -c python:hub.gunicorn_conf -w 4 -b 127.0.0.1:8000 'hub:create_app()'
    """
    from werkzeug.serving import run_simple

    from hub import get_config, permission_warnings
    from hub.logs import configure

    state = ctx.find_object(CliState)
    assert state is not None
    configure(state.config.log_level, state.config.log_format)
    state.scheduler = True
    app = state.app()
    _require_current_schema(app)
    for line in permission_warnings(get_config(app)):
        click.echo(f"warning: {line} (chmod it; see OPERATIONS.md, file modes)", err=True)
    click.echo(f"Lianfang hub on http://{host}:{port}  (Ctrl-C to stop)")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@main.command("create-admin")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_app
def create_admin_cmd(app: Flask, username: str, password_stdin: bool) -> None:
    """Add an admin account; prints a generated password unless --password-stdin."""
    from hub.auth.admin_auth import create_admin
    from hub.db import get_db

    _require_initialised(app)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if len(password) < 12:
            raise click.ClickException("password must be at least 12 characters")
    else:
        password = generate_password()
    with get_db(app).new_session() as session:
        try:
            create_admin(session, username, password, actor="cli")
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    if password_stdin:
        click.echo(f"created admin {username!r}")
    else:
        click.echo(f"created admin {username!r} with password: {password}")


@main.group()
def members() -> None:
    """List members and change their state."""


@members.command("list")
@click.option(
    "--state", type=click.Choice([s.value for s in MemberState])
)
@pass_app
def members_list(app: Flask, state: str | None) -> None:
    """One line per member: id, state, kind, name."""
    from hub.db import get_db

    _require_initialised(app)
    with get_db(app).new_session(write=False) as session:
        rows, total = list_members(session, MemberState(state) if state else None, 10_000, 0)
    for m in rows:
        click.echo(f"{m.id}  {m.state:<9}  {m.kind:<8}  {m.name}")
    click.echo(f"{total} member(s)")


def _transition_command(action: str, needs_reason: bool) -> click.Command:
    @click.argument("member_id")
    @click.option("--reason", required=needs_reason, help="Why (recorded in the audit log).")
    @click.option(
        "--actor", default="cli", show_default=True, help="Who to record in the audit log."
    )
    @pass_app
    def command(app: Flask, member_id: str, reason: str | None, actor: str) -> None:
        from hub.db import get_db
        from hub.errors import ApiError

        _require_initialised(app)
        with get_db(app).new_session() as session:
            try:
                member = transition(session, member_id, action, f"cli:{actor}", reason)
            except ApiError as exc:
                raise click.ClickException(exc.message) from None
            session.commit()
            click.echo(f"{member.id} is now {member.state}")

    command.__doc__ = f"{action.capitalize()} a member" + (
        " (--reason required)." if needs_reason else "."
    )
    return click.command(action)(command)


for _action, _needs_reason in (
    ("approve", False),
    ("reject", True),
    ("suspend", True),
    ("reinstate", False),
    ("revoke", True),
):
    members.add_command(_transition_command(_action, _needs_reason))


@main.command("verify-audit")
@click.option("--checkpoints", "checkpoint_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Signed audit checkpoints members kept (their state dir's "
                   "trust/audit-checkpoints.json); repeatable.")
@pass_app
def verify_audit(app: Flask, checkpoint_files: tuple[Path, ...]) -> None:
    """Recompute the audit hash chain; exit 1 naming the first broken row.

    With --checkpoints, also compare the chain with checkpoints the hub signed
    and members kept: a chain re-hashed as a whole verifies on its own, but its
    rows no longer carry the hashes the hub once signed.
    """
    from hub.db import get_db

    _require_initialised(app)
    points = [p for path in checkpoint_files for p in _read_checkpoints(path)]
    with get_db(app).new_session(write=False) as session:
        ok, first_bad = verify_chain(session)
        conflicts = audit_service.verify_checkpoints(session, points)
    if not ok:
        raise click.ClickException(f"audit chain broken at row {first_bad}")
    if conflicts:
        seq, actual = conflicts[0]
        raise click.ClickException(
            f"audit_rewrite: {len(conflicts)} kept checkpoint(s) contradict the chain; "
            f"row {seq} was signed with another hash (the database has {actual})"
        )
    suffix = f", consistent with {len(points)} checkpoints" if points else ""
    click.echo(f"audit chain OK{suffix}")


def _read_checkpoints(path: Path) -> list[dict[str, Any]]:
    """(seq, hash) pairs from a member's checkpoint file; a bad file is a usage error."""
    try:
        doc = json.loads(path.read_bytes())
        items = doc["checkpoints"] if isinstance(doc, dict) else doc
        return [{"seq": int(c["seq"]), "hash": str(c["hash"])} for c in items]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise click.BadParameter(f"{path}: not a checkpoint file ({type(exc).__name__})",
                                 param_hint="--checkpoints") from None


@main.command("verify-provenance")
@pass_app
def verify_provenance(app: Flask) -> None:
    """Re-check every stored report against its member's signed batch; exit 1 naming
    each report without valid provenance (e.g. a row written straight into the DB)."""
    from hub.db import get_db

    _require_initialised(app)
    bad = 0
    with get_db(app).new_session(write=False) as session:
        for problem in verify(session):
            bad += 1
            click.echo(problem.line(), err=True)
        checked = count_reports(session)
    if bad:
        raise click.ClickException(f"{bad} of {checked} reports have no valid provenance")
    click.echo(f"provenance OK: {checked} reports, each signed by its member")


@main.command("rotate-consortium-key")
@pass_app
def rotate_consortium_key(app: Flask) -> None:
    """Start a new consortium key epoch (current → retiring, older retiring → retired)."""
    from hub import get_config
    from hub.db import get_db

    _require_initialised(app)
    with get_db(app).new_session() as session:
        epoch = rotate(session, get_config(app), actor="cli")
        session.commit()
        states = epoch_states(session)
    click.echo(f"consortium key epoch {epoch} is current")
    for number in sorted(states, reverse=True):
        click.echo(f"  epoch {number}: {states[number]}")


def _load_plugin_commands() -> None:
    import hub.cli_commands as plugins

    for info in pkgutil.iter_modules(plugins.__path__):
        importlib.import_module(f"hub.cli_commands.{info.name}")


_load_plugin_commands()


if __name__ == "__main__":
    main()
