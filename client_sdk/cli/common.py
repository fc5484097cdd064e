"""What every `lianfang` verb shares: settings (flag > environment > config file),
the member key, one-line errors, `--output json` and the exit statuses.

Exit statuses (issue 19): 0 when everything was accepted, 1 when some rows were
rejected but others accepted (`PARTIAL`), 2 when the call failed (`FAILED`:
the hub refused or could not be reached, a bad flag, a bad file, or no row
accepted). Errors are one line on stderr starting with ``Error:``.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from client_sdk.errors import SyncError
from client_sdk.member_client import HubError, MemberClient
from schemas import keyfile
from schemas.indicators import InvalidIndicator
from schemas.keys import b64encode, fingerprint

F = TypeVar("F", bound=Callable[..., Any])
OK, PARTIAL, FAILED = 0, 1, 2
CONFIG_ENV = "LIANFANG_CONFIG"
CONFIG_KEYS = {
    "hub": "hub base URL (LIANFANG_HUB_URL)",
    "key": "member private key path (LIANFANG_KEY)",
    "member_id": "member id (LIANFANG_MEMBER_ID)",
    "state_dir": "feed state directory (LIANFANG_STATE_DIR)",
    "root_key": "hub root public key (LIANFANG_ROOT_KEY)",
}
"""What the config file may set: the settings a bank engineer would otherwise repeat.
Reader tokens are deliberately not among them (pass them by environment or flag)."""


class CliError(click.ClickException):
    """A failed call: one line on stderr, exit status 2."""

    exit_code = FAILED


def default_config_path() -> Path:
    """`$LIANFANG_CONFIG`, else `$XDG_CONFIG_HOME/lianfang/config.toml` (~/.config/…)."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "lianfang" / "config.toml"


def load_config(path: Path) -> dict[str, Any]:
    """The config file's settings; a missing file is an empty config, a broken one an error.

    Only the keys of `CONFIG_KEYS`, so a typo (`hub_url = …`) is caught instead of
    silently ignored; `key` and `state_dir` expand `~` and are relative to the file.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CliError(f"config file {path}: {exc}") from None
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise CliError(f"config file {path}: unknown setting {', '.join(unknown)} "
                       f"(known: {', '.join(CONFIG_KEYS)})")
    for name, value in data.items():
        if not isinstance(value, str):
            raise CliError(f"config file {path}: {name} must be a string")
    for name in ("key", "state_dir"):
        if name in data:
            data[name] = str(path.parent / Path(data[name]).expanduser())
    return data


def _config() -> dict[str, Any]:
    ctx = click.get_current_context()
    root = ctx.find_root()
    if root.obj is None:
        root.obj = {}
    if "config" not in root.obj:
        root.obj["config"] = load_config(root.obj.get("config_path") or default_config_path())
    return dict(root.obj["config"])


def from_config(name: str) -> Callable[[], Any]:
    """A click default: the config file's `name`, looked up only when flag and env are unset."""
    return lambda: _config().get(name)


def _present(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Click does not enforce `required` when a callable default returns None: do it here."""
    if value is None and not ctx.resilient_parsing:
        raise click.MissingParameter(ctx=ctx, param=param)
    return value


def _setting(*decls: str, name: str, envvar: str, help: str, **kw: Any) -> Callable[[F], F]:
    return click.option(*decls, envvar=envvar, default=from_config(name), required=True,
                        show_default=False, callback=_present,
                        help=f"{help} [env {envvar}; config `{name}`]", **kw)


hub_option = _setting("--hub", "hub_url", name="hub", envvar="LIANFANG_HUB_URL",
                      help="Hub base URL.")
key_option = _setting("--key", "key_path", name="key", envvar="LIANFANG_KEY",
                      type=click.Path(dir_okay=False, path_type=Path),
                      help="The member's Ed25519 private key (PEM).")
member_option = _setting("--member-id", name="member_id", envvar="LIANFANG_MEMBER_ID",
                         help="The member id `apply` printed.")
state_option = _setting("--state-dir", name="state_dir", envvar="LIANFANG_STATE_DIR",
                        type=click.Path(file_okay=False, path_type=Path),
                        help="Where verified feeds are kept.")
root_option = _setting("--root-key", name="root_key", envvar="LIANFANG_ROOT_KEY",
                       help="The hub's root public key (base64), from `lianfang-hub root-key`.")
output_option = click.option(
    "--output", "-o", type=click.Choice(["human", "json"]), default="human",
    show_default=True, help="human-readable lines, or one JSON document on stdout.")


def member_options(func: F) -> F:
    """--hub, --key and --member-id: what every signed verb needs."""
    return hub_option(key_option(member_option(func)))


def describe(error: object) -> str:
    """A hub or local problem as one readable line (never a Python dict)."""
    if isinstance(error, Mapping):
        if "message" in error and "code" in error:
            fields = error.get("fields")
            return str(error["message"]) + (f" ({describe(fields)})" if fields else "")
        return "; ".join(f"{field}: {describe(msgs)}" for field, msgs in error.items())
    if isinstance(error, (list, tuple)):
        return " ".join(describe(item) for item in error)
    return str(error)


def one_line_errors(func: F) -> F:
    """Turn expected failures into `Error: ...` on stderr and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HubError as exc:
            detail = f": {describe(exc.fields)}" if exc.fields else ""
            raise CliError(f"hub refused ({exc.status} {exc.code}): "
                           f"{exc.message}{detail}") from exc
        except (OSError, ValueError, SyncError, InvalidIndicator) as exc:
            raise CliError(str(exc) or type(exc).__name__) from exc

    return wrapper  # type: ignore[return-value]


PASSPHRASE_ENV = "LIANFANG_MEMBER_KEY_PASSPHRASE"
"""Where a passphrase-protected member key's passphrase comes from (cron jobs);
an interactive terminal is asked instead when it is unset."""


def passphrase(confirm: bool = False) -> bytes:
    value = os.environ.get(PASSPHRASE_ENV)
    if value is None:
        if not sys.stdin.isatty():
            raise ValueError(f"the key is passphrase-protected: set {PASSPHRASE_ENV}")
        value = click.prompt("key passphrase", hide_input=True, confirmation_prompt=confirm)
    if not value:
        raise ValueError("an empty passphrase protects nothing")
    return value.encode("utf-8")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The member's Ed25519 key: plain PKCS8 PEM, or passphrase-protected (`schemas.keyfile`,
    including files encrypted the old PBKDF2 way)."""
    data = path.read_bytes()
    secret = passphrase() if keyfile.is_encrypted(data) else None
    try:
        return keyfile.load_private_key(data, secret)
    except keyfile.KeyFileError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def public_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_b64(key: Ed25519PrivateKey) -> str:
    return b64encode(public_raw(key))


def key_fingerprint(key: Ed25519PrivateKey) -> str:
    """The fingerprint the console shows for this key, to compare out of band."""
    return fingerprint(public_raw(key))


def member_client(hub_url: str, key_path: Path, member_id: str | None, **kw: Any
                  ) -> MemberClient:
    return MemberClient(hub_url, load_private_key(key_path), member_id, **kw)


def emit(output: str, document: Any, lines: Sequence[str] = ()) -> None:
    """Print `document` as JSON, or the human `lines`."""
    if output == "json":
        click.echo(json.dumps(document, ensure_ascii=False, sort_keys=True))
    else:
        for line in lines:
            click.echo(line)


def finish(accepted: int, rejected: int) -> None:
    """Exit 0 when nothing was rejected, 1 when some were, 2 when nothing was accepted."""
    if rejected:
        sys.exit(PARTIAL if accepted else FAILED)
