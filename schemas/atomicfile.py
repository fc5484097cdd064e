"""Crash-safe file replacement, shared by the hub's feed publisher and the SDK's store.

Both sides promise that a reader (or a process restarted after a crash) sees a
file's old bytes or its new ones, never a mix: write a temporary file, fsync it,
rename it over the target, then fsync the directory so the rename itself
survives a power loss.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_all(fd: int, data: bytes) -> None:
    """`os.write` may write less than asked for large buffers; loop until done."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(directory: Path) -> None:
    """Make a rename durable: the directory entry itself must reach the disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` so that readers see the old bytes or the new ones."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            os.fchmod(fd, mode)
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)
