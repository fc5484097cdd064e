"""Owner-only files and directories for the hub's data (issue 14, "Files").

Why: the data directory holds the SQLite database (who reported what), the
master key, the signing keys and the feed state (the full listed sets). The
process umask decides what `mkdir`/`open` actually produce -- 0755/0644 under
the usual 022 -- so everything the hub creates is made 0700/0600 explicitly
(`fchmod`/`chmod` after creation, whatever the umask), and `permission_warnings`
names anything found wider on start (`lianfang-hub serve`, gunicorn, `/readyz`).
Existing paths are never re-moded behind the operator's back: a wider mode
might be deliberate (a group-readable backup), so it is reported, not changed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """`mkdir -p path` where every directory created here is 0700 (umask-independent)."""
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # a concurrent worker made it; its mode is its creator's business
        os.chmod(directory, PRIVATE_DIR_MODE)


def create_private_file(path: Path) -> bool:
    """Create an empty 0600 file unless it exists; True when this call created it.

    Used before SQLite opens a new database: sqlite3 creates files with 0644 &
    ~umask, and its WAL and shared-memory files copy the database file's mode.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return True


def _wider(path: Path, allowed: int) -> int | None:
    """The mode of `path` when it grants anything beyond `allowed`, else None."""
    try:
        mode = stat.S_IMODE(path.lstat().st_mode)
    except OSError:
        return None
    return mode if mode & ~allowed else None


def permission_warnings(data_dir: Path, extra_files: tuple[Path, ...] = ()) -> list[str]:
    """One line per path under `data_dir` (and `extra_files`) readable beyond its owner.

    Walks the data directory but not into the feeds' `artifacts/` folders (the
    bulky part, and the published bytes anyone may download), so a check costs a
    few dozen `lstat` calls at start or per /readyz.
    """
    found: list[str] = []

    def check(path: Path, allowed: int) -> None:
        mode = _wider(path, allowed)
        if mode is not None:
            found.append(f"{path} is mode {mode:04o}, expected {allowed:04o} or narrower")

    if data_dir.is_dir():
        check(data_dir, PRIVATE_DIR_MODE)
        for root, dirs, files in os.walk(data_dir):
            base = Path(root)
            for name in dirs:
                check(base / name, PRIVATE_DIR_MODE)
            dirs[:] = [name for name in dirs if name != "artifacts"]
            for name in files:
                check(base / name, PRIVATE_FILE_MODE)
    for path in extra_files:
        if not path.is_relative_to(data_dir):
            check(path, PRIVATE_FILE_MODE)
    return found
