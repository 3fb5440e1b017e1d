"""Run folders that are unique and owned (torch-free).

A new run claims its folder with ``os.mkdir``, which fails when the name is taken, so two
runs started in the same second get two folders (the second with a ``-2`` suffix). The
process writing a run holds an exclusive ``flock`` on the folder's ``.lock`` file for the
run's life; the file holds its PID, for messages. The lock goes with the process however
it ends (a SIGKILL included), so a lock that no live process holds is stale by
construction; where ``flock`` is not available the PID's liveness decides.
"""

from __future__ import annotations

import errno
import os
import re
import time
from pathlib import Path

from cnnexplorer.errors import UsageError
from cnnexplorer.runs.atomic import process_alive
from cnnexplorer.runs.safe_read import read_regular

LOCK_NAME = ".lock"

try:
    import fcntl
except ImportError:  # not on Windows: the PID's liveness alone decides
    fcntl = None  # type: ignore[assignment]


def os_error_text(error: OSError) -> str:
    """An OSError in the user's words, naming the disk where it is full."""
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full ({reason})"
    if error.errno == errno.EROFS:
        return f"the disk is read-only ({reason})"
    return reason


def file_error(action: str, path: Path | str, error: OSError) -> UsageError:
    """A one-line UsageError: what could not be done to which path, and why."""
    return UsageError(f"cannot {action} {path}: {os_error_text(error)}")


class RunLock:
    """The exclusive lock of one run folder, held until :meth:`release` (or the process ends)."""

    def __init__(self, run_dir: Path, descriptor: int) -> None:
        self.run_dir = run_dir
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing drops the flock
            self._descriptor = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _recorded_pid(path: Path) -> int | None:
    try:
        text = read_regular(path, 64).decode("ascii", errors="replace").strip()
    except OSError:  # not there, or not a regular file (a named pipe is not waited on)
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) < 20 else None


def lock_holder(run_dir: Path) -> int | None:
    """The PID of the live process that holds ``run_dir``'s lock; None when no one does."""
    path = Path(run_dir) / LOCK_NAME
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if fcntl is None:
            pid = _recorded_pid(path)
            return pid if pid is not None and process_alive(pid) else None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _recorded_pid(path) or 0
        except OSError:  # no flock on this file system: the recorded PID's liveness
            pid = _recorded_pid(path)
            return pid if pid is not None and pid != os.getpid() and process_alive(pid) else None
        return None
    finally:
        os.close(descriptor)


def held_by_message(run_dir: Path, pid: int) -> str:
    who = f"process {pid}" if pid else "another process"
    signal_hint = f" (kill -INT {pid} stops it cleanly, writing last.pt)" if pid else ""
    return f"run folder {run_dir} is in use by {who}, a run still going: wait for it to end{signal_hint}"


def lock_run_dir(run_dir: Path) -> RunLock:
    """Take ``run_dir``'s lock; a one-line UsageError naming the process that holds it."""
    path = Path(run_dir) / LOCK_NAME
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise file_error("lock run folder", run_dir, error) from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(held_by_message(run_dir, _recorded_pid(path) or 0)) from None
            except OSError:  # no flock here: fall back on the recorded PID
                _check_recorded_pid(run_dir, path)
        else:
            _check_recorded_pid(run_dir, path)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
    except OSError as error:
        os.close(descriptor)
        raise file_error("lock run folder", run_dir, error) from None
    except BaseException:
        os.close(descriptor)
        raise
    return RunLock(Path(run_dir), descriptor)


def _check_recorded_pid(run_dir: Path, path: Path) -> None:
    pid = _recorded_pid(path)
    if pid is not None and pid != os.getpid() and process_alive(pid):
        raise UsageError(held_by_message(run_dir, pid))


def new_run_name(model: str, now: float | None = None) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{_folder_safe(model)}"


def _folder_safe(model: str) -> str:
    """A model name as one folder name: ``path/to/mynet.py:Net`` gives ``mynet-Net``,
    ``timm:resnet50d`` gives ``timm-resnet50d``."""
    source, colon, factory = model.rpartition(":")
    if colon and ("/" in source or "\\" in source or source.endswith(".py")):
        source = Path(source.replace("\\", "/")).stem
    name = f"{source}-{factory}" if colon else model
    return re.sub(r"[^\w.+-]+", "-", name).strip("-.") or "model"


def claim_run_dir(wanted: Path) -> tuple[Path, RunLock]:
    """Create a new run folder at ``wanted`` or, if that name is taken, ``wanted-2``,
    ``wanted-3``, ...: ``os.mkdir`` makes each claim atomic. Returns it locked."""
    parent = wanted.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(f"--output {parent}: it (or a folder above it) is a file, not a folder") from None
    except OSError as error:
        raise file_error("create the runs folder", parent, error) from None
    number = 1
    while True:
        candidate = wanted if number == 1 else wanted.with_name(f"{wanted.name}-{number}")
        try:
            os.mkdir(candidate)
        except FileExistsError:
            number += 1
            continue
        except NotADirectoryError:
            raise UsageError(f"--output {parent}: it (or a folder above it) is a file, not a folder") from None
        except OSError as error:
            raise file_error("create run folder", candidate, error) from None
        return candidate, lock_run_dir(candidate)


def remove_if_unused(run_dir: Path) -> None:
    """Remove a run folder this process created, if nothing but its lock was written there."""
    try:
        entries = {entry.name for entry in run_dir.iterdir()}
        if entries <= {LOCK_NAME}:
            (run_dir / LOCK_NAME).unlink(missing_ok=True)
            run_dir.rmdir()
    except OSError:
        pass
