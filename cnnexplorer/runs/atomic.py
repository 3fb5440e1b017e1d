"""Durable writes: a file is replaced whole or not at all, and the replacement survives a crash.

The one guarantee, for the analysis cache, the run folders and the checkpoints alike: the data
goes to ``.NAME.<pid>.tmp`` in the same folder, is flushed and fsync'd, is renamed over
``NAME``, and the folder is fsync'd so that the rename itself is on disk. A kill at any instant
leaves either the old file or the new one, plus at most a temporary file that
:func:`remove_stale_temp_files` recognises by its writer's dead pid.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO


def write_atomic(path: Path, data: bytes | Callable[[IO[bytes]], None]) -> None:
    """Replace ``path`` with ``data`` (bytes, or a function that writes to the open binary
    file) durably; raises OSError (or what the writer raises), leaving no temporary file."""
    path = Path(path)
    temp = temp_path(path)
    try:
        with open(temp, "wb") as stream:
            if isinstance(data, bytes):
                stream.write(data)
            else:
                data(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    fsync_directory(path.parent)


def write_text_atomic(path: Path, text: str) -> None:
    """:func:`write_atomic` for UTF-8 text."""
    write_atomic(path, text.encode("utf-8"))


def temp_path(path: Path) -> Path:
    """Where a writer of ``path`` in this process puts its data before the rename."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def fsync_directory(directory: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk, where the platform allows it."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # not possible on every platform; the rename is still atomic
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Remove the temporary files that writers of ``path`` killed mid-write left behind
    (``.NAME.<pid>.tmp`` of a process no longer alive); returns them."""
    removed = []
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.tmp")
    try:
        candidates = list(path.parent.iterdir())
    except OSError:
        return removed
    for candidate in candidates:
        found = pattern.fullmatch(candidate.name)
        if found is None or _process_alive(int(found.group(1))):
            continue
        try:
            candidate.unlink()
            removed.append(candidate)
        except OSError:
            pass
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a file of this process is not being written now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
