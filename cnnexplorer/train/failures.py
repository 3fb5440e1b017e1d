"""How a training run ends when it does not complete: the stop signals, the kind and one-line
message of a failure, and the ``error`` and ``done`` events that record it."""

from __future__ import annotations

import errno
import os
import signal
import sys
from typing import IO, Any

from cnnexplorer.errors import UsageError
from cnnexplorer.runs import rundir
from cnnexplorer.runs.events import EventWriter, silence_broken_pipe
from cnnexplorer.runs.progress import PlainReporter
from cnnexplorer.train import checkpoints, data
from cnnexplorer.train.devices import Placement

EXIT_FAILED = 1  # a crash or a non-finite loss or weights
# A full or read-only disk, or a file over the size limit (the process's `ulimit -f`, a FAT
# disk's 4 GB): the write failed, not the run, and a --resume goes on once the cause is fixed.
DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)
_DISK_FIXES = {
    errno.EDQUOT: "free some space or raise your quota",
    errno.EROFS: "remount the disk read-write, or move the run folder to a writable disk",
    errno.EFBIG: "raise the file-size limit, `ulimit -f`, or move the run folder to a disk that takes larger files",
}


class StopNow(BaseException):
    """A second SIGINT/SIGTERM: stop at once, writing nothing (like KeyboardInterrupt, not an Exception)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class StopSignals:
    """Records SIGINT/SIGTERM so that the loop can finish its step and stop cleanly; a second
    signal raises StopNow wherever the process is (checkpoint writes are atomic); later ones
    are ignored while the run writes how it ended (its error and done events, one line)."""

    def __init__(self, reporter: PlainReporter) -> None:
        self.signum: int | None = None
        self.stopping_now = False
        self.reporter = reporter
        self.previous = {}

    def __enter__(self) -> StopSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._record)
        return self

    def _record(self, signum: int, _frame: object) -> None:
        if self.stopping_now:
            return
        if self.signum is not None:
            self.stopping_now = True
            raise StopNow(signum)
        self.reporter.message(
            f"{signal.Signals(signum).name}: finishing the current step, then writing last.pt "
            "(send it again to stop at once)"
        )
        self.signum = signum

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def error_event(kind: str, message: str, step: int, epoch: int, **details: Any) -> dict[str, Any]:
    """The fields of an ``error`` event: its kind, one-line message, the step and (1-based)
    epoch it happened in, and any ``details`` (the signal, the lr)."""
    return {"kind": kind, "message": message, "step": step, "epoch": epoch, **details}


def failure_of(error: Exception, step: int, epoch: int) -> dict[str, Any]:
    """The ``error`` event of an exception that ended training after ``step``, in ``epoch``."""
    unreadable = data.unreadable_image_message(error)  # from a loader worker it arrives wrapped
    if unreadable is not None:
        return error_event("data", unreadable, step, epoch)
    if isinstance(error, UsageError):
        return error_event("usage", str(error), step, epoch)
    where = f"after step {step} (epoch {epoch})"
    kept = "last.pt and best.pt were not touched"
    if isinstance(error, checkpoints.NonFiniteWeightsError):
        message = (
            f"the weights became non-finite {where} although the loss was finite; {kept} "
            f"(try a lower --lr, or --warmup-epochs)"
        )
        return error_event("nonfinite_weights", message, step, epoch)
    disk = disk_error_of(error)
    if disk is not None:
        where_on_disk = f" writing {disk.filename}" if disk.filename else ""
        fix = _DISK_FIXES.get(disk.errno, "free some space")
        message = (
            f"{rundir.os_error_text(disk)}{where_on_disk} {where}; the checkpoints are as last written "
            f"({fix}, then --resume)"
        )
        return error_event("disk", message, step, epoch)
    first_line = (str(error).strip().splitlines() or [""])[0]
    message = f"{type(error).__name__} {where}: {first_line}; {kept} since the last checkpoint event"
    return error_event("crash", message, step, epoch)


def disk_error_of(error: BaseException) -> OSError | None:
    """The full or read-only disk (or file-size limit) behind ``error``, whichever layer raised
    it: the OSError itself, its cause or context (a library's wrapper of it), or one named in
    the message of an error that kept only the text; None for any other failure."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in DISK_ERRORS:
            return error
        for number in DISK_ERRORS:
            if os.strerror(number) in str(error):
                return OSError(number, os.strerror(number))
        error = error.__cause__ or error.__context__
    return None


def end_unfinished(
    events: EventWriter,
    placement: Placement,
    summary: dict[str, Any],
    error: dict[str, Any],
    code: int,
    echo: bool = True,
) -> int:
    """End a run that did not complete: the ``error`` event, the ``done`` event (interrupted or failed),
    the message as one line on stderr (rank 0; if ``echo``); returns the exit ``code``."""
    interrupted = error["kind"] == "interrupted"
    done = {"status": "interrupted" if interrupted else "failed", "summary": summary}
    for event, fields in (("error", error), ("done", done)):
        try:
            events.emit(event, **fields)
        except OSError:
            pass  # the file failed (a full disk): the stream and the line below still tell
    if echo and placement.is_main:
        say(f"cnnexplorer: {'' if interrupted else 'error: '}{error['message']}", sys.stderr)
    return code


def say(line: str, stream: IO[str]) -> None:
    """Print one line; a stream whose reader left (an app that quit) is not an error."""
    try:
        print(line, file=stream, flush=True)
    except (BrokenPipeError, ValueError):
        silence_broken_pipe(stream)
