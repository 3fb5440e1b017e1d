"""Durable writes: a file is replaced whole or not at all, and the replacement survives a crash.

The one guarantee, for the analysis cache, the run folders and the checkpoints alike: the data
goes to ``.NAME.<pid>.<thread>.tmp`` in the same folder (one name per writing thread: the app's
threads may save the same cache entry at once), is flushed and fsync'd, is renamed over
``NAME``, and the folder is fsync'd so that the rename itself is on disk. A kill at any instant
leaves either the old file or the new one, plus at most a temporary file that
:func:`remove_stale_temp_files` recognises by its writer's dead pid.
"""

from __future__ import annotations

import errno
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO


def write_atomic(path: Path, data: bytes | Callable[[IO[bytes]], None]) -> None:
    """Replace ``path`` with ``data`` (bytes, or a function that writes to the open binary
    file) durably; raises what the writer raises, leaving no temporary file. A failure of the
    file system is an OSError naming ``path`` however the writer reported it (torch's
    serializer wraps a full disk in a RuntimeError of its own)."""
    path = Path(path)
    temp = temp_path(path)
    try:
        with open(temp, "wb") as file:
            stream = _WriteErrors(file)
            try:
                if isinstance(data, bytes):
                    stream.write(data)
                else:
                    data(stream)
            except Exception:
                if stream.error is not None:
                    raise stream.error from None  # the cause, not the writer's account of it
                raise
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
        fsync_directory(path.parent)
    except OSError as error:
        if error.filename is not None or error.errno is None:
            raise
        raise OSError(error.errno, error.strerror, str(path)) from None
    finally:
        temp.unlink(missing_ok=True)


class _WriteErrors:
    """A binary file that keeps the first OSError its writes raised (:attr:`error`)."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.file.write(data)
        except OSError as error:
            self.error = self.error or error
            raise

    def flush(self) -> None:
        try:
            self.file.flush()
        except OSError as error:
            self.error = self.error or error
            raise


def write_text_atomic(path: Path, text: str) -> None:
    """:func:`write_atomic` for UTF-8 text."""
    write_atomic(path, text.encode("utf-8"))


def temp_path(path: Path) -> Path:
    """Where a writer of ``path`` in this thread puts its data before the rename."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_native_id()}.tmp")


def fsync_directory(directory: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk, where the platform allows it."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # not possible on every platform; the rename is still atomic
        return
    try:
        os.fsync(descriptor)
    except OSError as error:
        # Some file systems cannot fsync a folder; the rename is done and atomic all the same.
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(descriptor)


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Remove the temporary files that writers of ``path`` killed mid-write left behind
    (``.NAME.<pid>.<thread>.tmp``, or ``.NAME.<pid>.tmp`` of older versions, of a process no
    longer alive); returns them."""
    removed = []
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)(?:\.\d+)?\.tmp")
    try:
        candidates = list(path.parent.iterdir())
    except OSError:
        return removed
    for candidate in candidates:
        found = pattern.fullmatch(candidate.name)
        pid = int(found.group(1)) if found else None
        if pid is None or (pid != os.getpid() and process_alive(pid)):
            continue  # not ours, or a writer still going (this process writes one at a time)
        try:
            candidate.unlink()
            removed.append(candidate)
        except OSError:
            pass
    return removed


def process_alive(pid: int) -> bool:
    """Whether a process of that PID is alive (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True
