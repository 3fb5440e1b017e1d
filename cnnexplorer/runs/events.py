"""The event stream of training and evaluation runs: one JSON object per line.

This is the contract between ``cnnexplorer train``/``eval`` and anything that watches a
run (the app draws it live). It is free of torch and Textual so that readers stay light.

Every event carries ``schema`` (:data:`SCHEMA_VERSION`), ``event`` (its type) and
``time`` (Unix seconds). The fields of each type are listed in :data:`EVENT_FIELDS`;
writers may add fields, readers must ignore the ones they do not know.

The stream heals: a writer ends a line left torn by a crash before it appends; readers
skip (and count) lines that are not events instead of giving up on the file; and a
resumed segment supersedes what earlier segments logged past the step it resumed from
(:func:`one_history`).
"""

from __future__ import annotations

import json
import math
import os
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

SCHEMA_VERSION = 1

# The fields every event of a type carries (besides schema, event and time).
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "start": (
        "command",  # "train" or "eval"
        "model",
        "family",
        "config",  # the full resolved configuration (the contents of config.json for train)
        "params",  # number of parameters
        "macs",  # multiply-accumulates of one forward pass at the configured image size
        "device",  # e.g. "cpu", "cuda:0"
        "devices",  # one entry per rank
        "world_size",
        "dataset",  # {"kind", "classes", "train_images", "val_images"}
        "steps_per_epoch",
        "run_dir",  # null for eval
        "resumed_from",  # checkpoint path or null
        "start_epoch",  # 1-based epoch the run starts in
        "start_step",  # optimizer steps already done
    ),
    "step": (
        "epoch",  # 1-based
        "step",  # optimizer steps done since the start of training (global, 1-based)
        "epoch_step",  # steps done in this epoch
        "steps_per_epoch",
        "loss",  # mean training loss over the steps since the previous step event (all ranks)
        "lr",
        "img_per_s",  # training images per second over those steps (all ranks)
        "data_time",  # mean seconds per step spent waiting for data (rank 0)
    ),
    "val": ("epoch", "step", "loss", "top1", "top5", "images", "best_top1"),  # top-k in percent
    "checkpoint": ("path", "kind", "epoch", "step"),  # kind: "last" or "best"
    "error": ("kind", "message"),  # kinds: "interrupted", "nonfinite_loss", "nonfinite_weights", "data", "crash", ...
    "done": ("status", "summary"),  # status: "completed", "interrupted", "failed"
}

# What a reader may rely on: a field that is there has this type (null where listed).
# Counts are whole numbers from 0 to 2**53, numbers finite and at most 1e300 in size.
_COUNT, _NUMBER, _TEXT, _OBJECT, _LIST = "count", "number", "text", "object", "list"
_NULLABLE = "?"
_FIELD_TYPES: dict[str, dict[str, str]] = {
    "start": {
        "command": _TEXT,
        "model": _TEXT + _NULLABLE,
        "family": _TEXT + _NULLABLE,
        "config": _OBJECT,
        "params": _COUNT + _NULLABLE,
        "macs": _COUNT + _NULLABLE,
        "device": _TEXT + _NULLABLE,
        "devices": _LIST,
        "world_size": _COUNT,
        "dataset": _OBJECT + _NULLABLE,
        "steps_per_epoch": _COUNT + _NULLABLE,
        "run_dir": _TEXT + _NULLABLE,
        "resumed_from": _TEXT + _NULLABLE,
        "start_epoch": _COUNT + _NULLABLE,
        "start_step": _COUNT + _NULLABLE,
    },
    "step": {
        "epoch": _COUNT,
        "step": _COUNT,
        "epoch_step": _COUNT,
        "steps_per_epoch": _COUNT + _NULLABLE,
        "loss": _NUMBER + _NULLABLE,
        "lr": _NUMBER + _NULLABLE,
        "img_per_s": _NUMBER + _NULLABLE,
        "data_time": _NUMBER + _NULLABLE,
    },
    "val": {
        "epoch": _COUNT,
        "step": _COUNT + _NULLABLE,
        "loss": _NUMBER + _NULLABLE,
        "top1": _NUMBER + _NULLABLE,
        "top5": _NUMBER + _NULLABLE,
        "images": _COUNT + _NULLABLE,
        "best_top1": _NUMBER + _NULLABLE,
    },
    "checkpoint": {"path": _TEXT, "kind": _TEXT, "epoch": _COUNT, "step": _COUNT},
    "error": {"kind": _TEXT + _NULLABLE, "message": _TEXT + _NULLABLE},
    "done": {"status": _TEXT, "summary": _OBJECT + _NULLABLE},
}
# Inside the objects above: the entries readers fold (the run's length, the figures of its end).
_NESTED_TYPES: dict[str, dict[str, str]] = {
    "config": {"epochs": _COUNT + _NULLABLE, "max_steps": _COUNT + _NULLABLE},
    "summary": {
        "epochs": _COUNT + _NULLABLE,
        "steps": _COUNT + _NULLABLE,
        "best_top1": _NUMBER + _NULLABLE,
        "top1": _NUMBER + _NULLABLE,
        "top5": _NUMBER + _NULLABLE,
        "last_val": _OBJECT + _NULLABLE,
    },
    "last_val": {"top1": _NUMBER + _NULLABLE, "top5": _NUMBER + _NULLABLE},
}
_LARGEST_COUNT = 2**53
_LARGEST_NUMBER = 1e300
_MAX_READ = 16 * 1024 * 1024  # what a tail reads at most per poll


class EventStreamError(ValueError):
    """A line that is not an event of the contract (or an events file that cannot be read)."""


def make_event(event: str, **fields: Any) -> dict[str, Any]:
    """Build one event; raises ValueError for an unknown type or a missing field."""
    if event not in EVENT_FIELDS:
        raise ValueError(f"unknown event type {event!r}")
    missing = [name for name in EVENT_FIELDS[event] if name not in fields]
    if missing:
        raise ValueError(f"{event} event lacks {', '.join(missing)}")
    return {"schema": SCHEMA_VERSION, "event": event, "time": round(time.time(), 3), **fields}


def _finite_or_none(value: Any) -> Any:
    """JSON has no NaN or Infinity: non-finite floats are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item) for item in value]
    return value


def encode(event: dict[str, Any]) -> str:
    """One event as one line of strict JSON (no trailing newline)."""
    return json.dumps(_finite_or_none(event), separators=(",", ":"), allow_nan=False, default=str)


def _ends_torn(path: Path) -> bool:
    """True when the file's last line lacks its newline (a writer died mid-line)."""
    try:
        with open(path, "rb") as stream:
            if stream.seek(0, os.SEEK_END) == 0:
                return False
            stream.seek(-1, os.SEEK_END)
            return stream.read(1) != b"\n"
    except OSError:
        return False


class EventWriter:
    """Appends events to a file and, optionally, to another stream (``--events -``).

    Every line is flushed as it is written, so a reader tailing the file sees whole events.
    A last line left torn by a crash is ended before the first event is appended, so that
    the torn line stays one damaged line and the new events stay readable. A writer with no
    file and no stream (other ranks than 0) drops events. If the file cannot be written
    (a full disk), that write raises OSError and the writer goes on with its stream alone,
    so that the run can still report how it ended.
    """

    def __init__(self, path: Path | None = None, echo: IO[str] | None = None) -> None:
        self.path = path
        self._file = None
        if path is not None:
            torn = _ends_torn(Path(path))
            self._file = open(path, "a", encoding="utf-8")
            if torn:
                self._file.write("\n")
                self._file.flush()
        self._echo = echo
        self.write_error: OSError | None = None  # why the file stopped being written

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        record = make_event(event, **fields)
        if self._file is None and self._echo is None:
            return record
        line = encode(record) + "\n"
        if self._echo is not None:
            try:
                self._echo.write(line)
                self._echo.flush()
            except (BrokenPipeError, ValueError):
                # The reader went away (an app that quit): the run goes on, and the file
                # keeps the stream.
                silence_broken_pipe(self._echo)
                self._echo = None
        if self._file is not None:
            try:
                self._file.write(line)
                self._file.flush()
            except OSError as error:
                self._drop_file(error)
                raise
        return record

    def _drop_file(self, error: OSError) -> None:
        self.write_error = error
        try:
            self._file.close()
        except OSError:
            pass  # what it still held is lost; the next writer ends the torn line
        self._file = None

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError as error:
                self.write_error = error
            self._file = None

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def silence_broken_pipe(stream: IO[str]) -> None:
    """Point a broken pipe's descriptor at /dev/null, so that later writes and the flush at
    exit no longer fail (a process whose reader left, an app that quit, goes on quietly)."""
    try:
        descriptor = stream.fileno()
    except (OSError, ValueError):
        return  # not a file descriptor (a StringIO)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, descriptor)
        finally:
            os.close(devnull)
    except OSError:
        pass


def _check_value(value: Any, kind: str) -> bool:
    if kind.endswith(_NULLABLE):
        if value is None:
            return True
        kind = kind[:-1]
    if kind == _COUNT:
        return type(value) is int and 0 <= value <= _LARGEST_COUNT
    if kind == _NUMBER:
        if type(value) is int:
            return abs(value) <= _LARGEST_COUNT
        return type(value) is float and math.isfinite(value) and abs(value) <= _LARGEST_NUMBER
    if kind == _TEXT:
        return isinstance(value, str)
    if kind == _OBJECT:
        return isinstance(value, dict)
    return isinstance(value, list)


def _check_fields(record: dict[str, Any], types: dict[str, str], number: int, where: str) -> None:
    for name, kind in types.items():
        if name in record and not _check_value(record[name], kind):
            raise EventStreamError(f"line {number}: {where}{name} is {_shown(record[name])}, not a {kind.rstrip('?')}")
        nested = _NESTED_TYPES.get(name)
        if nested is not None and isinstance(record.get(name), dict):
            _check_fields(record[name], nested, number, f"{where}{name}.")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_event(line: str | bytes, number: int = 0) -> dict[str, Any]:
    """One line as an event; raises :class:`EventStreamError` naming line ``number`` for any
    line that is not one: not UTF-8, not JSON (NaN, nesting too deep, numbers too long), not
    an object with ``schema`` and ``event``, another schema, or a known field of the wrong type."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise EventStreamError(f"line {number}: not UTF-8 text") from None
    if not line.strip():
        raise EventStreamError(f"line {number}: empty line")
    try:
        event = json.loads(line, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise EventStreamError(f"line {number}: not JSON ({error.msg})") from None
    except (ValueError, RecursionError) as error:  # a huge integer, NaN, nesting too deep
        raise EventStreamError(f"line {number}: not JSON ({type(error).__name__})") from None
    if not isinstance(event, dict) or "event" not in event or "schema" not in event:
        raise EventStreamError(f"line {number}: not an event (needs 'schema' and 'event')")
    if event["schema"] != SCHEMA_VERSION or type(event["schema"]) is not int:
        raise EventStreamError(
            f"line {number}: schema {_shown(event['schema'])}, this reader understands {SCHEMA_VERSION}"
        )
    if not isinstance(event["event"], str):
        raise EventStreamError(f"line {number}: event is {_shown(event['event'])}, not a text")
    if "time" in event and not _check_value(event["time"], _NUMBER):
        raise EventStreamError(f"line {number}: time is {_shown(event['time'])}, not a number")
    _check_fields(event, _FIELD_TYPES.get(event["event"], {}), number, "")
    if event["event"] == "start" and not all(isinstance(device, str) for device in event.get("devices", [])):
        raise EventStreamError(f"line {number}: devices holds something other than text")
    return event


def iter_events(
    lines: Iterable[str | bytes] | IO[str], *, strict_tail: bool = False, damaged: list[int] | None = None
) -> Iterator[dict[str, Any]]:
    """Parse event lines, skipping those that are not events (their line numbers are added
    to ``damaged``). A last line without its newline is a write in progress (or a crash
    mid-line) and is left out, not counted, unless ``strict_tail``."""
    pending: str | bytes | None = None
    number = 0
    for raw in lines:
        if pending is not None:
            yield from _parsed(pending, number, damaged)
        number += 1
        pending = raw
    if pending is None:
        return
    complete = pending.endswith(b"\n" if isinstance(pending, bytes) else "\n")
    if complete or strict_tail:
        yield from _parsed(pending, number, damaged)


def _parsed(line: str | bytes, number: int, damaged: list[int] | None) -> Iterator[dict[str, Any]]:
    try:
        yield parse_event(line, number)
    except EventStreamError:
        if damaged is not None:
            damaged.append(number)


def one_history(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run's events as one history: a resumed segment's ``start`` supersedes the step, val
    and checkpoint events that earlier segments logged past the step it resumed from (a
    run killed after its checkpoint redoes those steps), so steps never go backwards."""
    kept: list[dict[str, Any]] = []
    for event in events:
        if event.get("event") == "start" and event.get("resumed_from"):
            resumed_at = event.get("start_step") or 0
            kept = [earlier for earlier in kept if not _logged_past(earlier, resumed_at)]
        kept.append(event)
    return kept


def _logged_past(event: dict[str, Any], step: int) -> bool:
    return event.get("event") in ("step", "val", "checkpoint") and (event.get("step") or 0) > step


@dataclass
class EventLog:
    """What an events file holds: its events in file order and the lines skipped."""

    events: list[dict[str, Any]] = field(default_factory=list)
    damaged: list[int] = field(default_factory=list)  # line numbers of lines that are not events

    def history(self) -> list[dict[str, Any]]:
        """The events as one history (see :func:`one_history`)."""
        return one_history(self.events)


def _open_regular(path: Path | str) -> IO[bytes]:
    """Open a file for reading, refusing anything but a regular file (a named pipe would
    block the reader forever); raises OSError."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"{path} is not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_event_log(path: Path | str) -> EventLog:
    """Every event of an ``events.jsonl`` file, and the numbers of its damaged lines."""
    log = EventLog()
    with _open_regular(path) as stream:
        log.events = list(iter_events(stream, damaged=log.damaged))
    return log


def read_events(path: Path | str) -> list[dict[str, Any]]:
    """All complete events of an ``events.jsonl`` file, in file order; lines that are not
    events are skipped (see :func:`read_event_log` for their count)."""
    return read_event_log(path).events


class EventTail:
    """Follows a growing ``events.jsonl``: each :meth:`poll` returns the events completed
    since the previous one (a line still being written waits for its newline); lines that
    are not events are skipped and counted in :attr:`damaged`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._offset = 0
        self._line = 0
        self.damaged = 0

    def poll(self) -> list[dict[str, Any]]:
        """New events; raises OSError for a file that cannot be read or is not a regular file."""
        try:
            with _open_regular(self.path) as stream:
                stream.seek(self._offset)
                chunk = stream.read(_MAX_READ)
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n") + 1
        if end == 0 and len(chunk) == _MAX_READ:  # one line longer than a read: not an event
            self._offset += len(chunk)
            self.damaged += 1
            return []
        self._offset += end
        found = []
        for raw in chunk[:end].splitlines():
            self._line += 1
            try:
                found.append(parse_event(raw, self._line))
            except EventStreamError:
                self.damaged += 1
        return found
