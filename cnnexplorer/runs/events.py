"""The event stream of training and evaluation runs: one JSON object per line.

This is the contract between ``cnnexplorer train``/``eval`` and anything that watches a
run (the app draws it live). It is free of torch and Textual so that readers stay light.

Every event carries ``schema`` (:data:`SCHEMA_VERSION`), ``event`` (its type) and
``time`` (Unix seconds). Each type is one class below (:class:`Start`, :class:`Step`,
:class:`Val`, :class:`Checkpoint`, :class:`Error`, :class:`Done`): its fields are what a
writer must give (:func:`make_event`) and what a reader gets, typed (:func:`parse_event`).
Writers may add fields; readers ignore the ones they do not know. A line that lacks a field
of its type, has one of the wrong type, or is of an unknown type is not an event.

The stream heals: a writer ends a line left torn by a crash before it appends; readers
skip (and count) lines that are not events instead of giving up on the file; and a
resumed segment supersedes what earlier segments logged past the step it resumed from
(:func:`one_history`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any, Literal

import msgspec

from cnnexplorer.runs.safe_read import open_regular

SCHEMA_VERSION = 1

# What a reader may rely on: counts are whole numbers from 0 to 2**53; numbers are whole
# numbers up to 2**53 in size or finite floats up to 1e300 in size.
Count = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Number = Annotated[int, msgspec.Meta(ge=-(2**53), le=2**53)] | Annotated[float, msgspec.Meta(ge=-1e300, le=1e300)]

_MAX_READ = 16 * 1024 * 1024  # what a tail reads at most per poll, and the longest line read


class Event(msgspec.Struct, frozen=True, tag_field="event"):
    """What every event carries besides its type."""

    schema: Literal[1]  # SCHEMA_VERSION
    time: Number  # Unix seconds

    @property
    def event(self) -> str:
        """The event's type, as written in its ``event`` field."""
        return self.__struct_config__.tag


class Config(msgspec.Struct, frozen=True):
    """What readers fold of a start's ``config`` (written whole): the run's length."""

    epochs: Count | None = None
    max_steps: Count | None = None


class Start(Event, tag="start"):
    """A run begins (or a resumed segment of it)."""

    command: str  # "train" or "eval"
    model: str | None
    family: str | None
    config: Config  # the full resolved configuration (the contents of config.json for train)
    params: Count | None  # number of parameters
    macs: Count | None  # multiply-accumulates of one forward pass at the configured image size
    device: str | None  # e.g. "cpu", "cuda:0"
    devices: list[str]  # one entry per rank
    world_size: Count
    dataset: dict[str, Any] | None  # {"kind", "classes", "train_images", "val_images"}
    steps_per_epoch: Count | None
    run_dir: str | None  # null for eval
    resumed_from: str | None  # checkpoint path or null
    start_epoch: Count | None  # 1-based epoch the run starts in
    start_step: Count | None  # optimizer steps already done


class Step(Event, tag="step"):
    """Training's progress: every ``--log-every`` steps and at the end of each epoch."""

    epoch: Count  # 1-based
    step: Count  # optimizer steps done since the start of training (global, 1-based)
    epoch_step: Count  # steps done in this epoch
    steps_per_epoch: Count | None
    loss: Number | None  # mean training loss over the steps since the previous step event (all ranks)
    lr: Number | None
    img_per_s: Number | None  # training images per second over those steps (all ranks)
    data_time: Number | None  # mean seconds per step spent waiting for data (rank 0)
    # The epoch so far, over every segment of the run (what metrics.csv's row is derived from):
    epoch_loss_sum: Number | None = None  # the sum of its steps' losses (its mean: / epoch_step)
    epoch_images: Count | None = None  # training images (all ranks)
    epoch_seconds: Number | None = None  # seconds spent training


class Val(Event, tag="val"):
    """A validation: one per epoch (eval's one result)."""

    epoch: Count
    step: Count | None
    loss: Number | None
    top1: Number | None  # percent
    top5: Number | None  # percent
    images: Count | None
    best_top1: Number | None


class Checkpoint(Event, tag="checkpoint"):
    """A checkpoint written."""

    path: str
    kind: str  # "last" or "best"
    epoch: Count  # completed epochs
    step: Count


class Error(Event, tag="error"):
    """Why a run stops before it completes (a done event follows)."""

    kind: str | None  # "interrupted", "nonfinite_loss", "nonfinite_weights", "data", "crash", ...
    message: str | None


class LastVal(msgspec.Struct, frozen=True):
    """What readers fold of a summary's ``last_val``."""

    top1: Number | None = None
    top5: Number | None = None


class Summary(msgspec.Struct, frozen=True):
    """What readers fold of a done event's ``summary`` (written whole): the figures of the run's end."""

    epochs: Count | None = None
    steps: Count | None = None
    best_top1: Number | None | msgspec.UnsetType = msgspec.UNSET  # absent from eval's summary (its top1 is the best)
    top1: Number | None = None
    top5: Number | None = None
    last_val: LastVal | None = None


class Done(Event, tag="done"):
    """How a run (or a segment of it) ended: its last event."""

    status: str  # "completed", "interrupted", "failed"
    summary: Summary | None


AnyEvent = Start | Step | Val | Checkpoint | Error | Done

# The fields every event of a type carries (besides schema, event and time).
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    event_type.__struct_config__.tag: tuple(
        name for name in event_type.__struct_fields__ if name not in Event.__struct_fields__
    )
    for event_type in AnyEvent.__args__
}
_DECODER = msgspec.json.Decoder(AnyEvent)
_RECORD_DECODER = msgspec.json.Decoder(dict[str, Any])


def _builtin(value: Any) -> Any:
    """What the encoder makes of a value JSON has no type for: a float subclass (numpy's) is
    a float, anything else (a path) its text."""
    return float(value) if isinstance(value, float) else str(value)


_ENCODER = msgspec.json.Encoder(enc_hook=_builtin)


class EventStreamError(ValueError):
    """A line that is not an event of the contract (or an events file that cannot be read)."""


def make_event(event: str, **fields: Any) -> dict[str, Any]:
    """One event as written, stamped now (unless ``time`` is given); raises ValueError for an
    unknown type or a missing field (one its class declares)."""
    if event not in EVENT_FIELDS:
        raise ValueError(f"unknown event type {event!r}")
    missing = [name for name in EVENT_FIELDS[event] if name not in fields]
    if missing:
        raise ValueError(f"{event} event lacks {', '.join(missing)}")
    return {"schema": SCHEMA_VERSION, "event": event, "time": round(time.time(), 3), **fields}


def encode(event: dict[str, Any]) -> str:
    """One event as one line of strict JSON (no trailing newline): JSON has no NaN or
    Infinity, so non-finite floats are written as null."""
    return _ENCODER.encode(event).decode()


def _ends_torn(path: Path) -> bool:
    """True when the file's last line lacks its newline (a writer died mid-line)."""
    try:
        with open_regular(path) as stream:
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
    so that the run can still report how it ended. Only a regular file is opened (a named
    pipe in its place is an OSError, not a hang).
    """

    def __init__(self, path: Path | None = None, echo: IO[str] | None = None) -> None:
        self.path = path
        self._file = None
        if path is not None:
            torn = _ends_torn(Path(path))
            self._file = open_regular(path, append=True)
            if torn:
                self._file.write(b"\n")
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
                self._file.write(line.encode("utf-8"))
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


def parse_event(line: str | bytes, number: int = 0) -> AnyEvent:
    """One line as an event; raises :class:`EventStreamError` naming line ``number`` for any
    line that is not one: not UTF-8, not JSON (NaN, nesting too deep, numbers too long), not
    an object of a known type with all its fields, another schema, or a field of the wrong type."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")  # the decoder would not check the text of fields it skips
        except UnicodeDecodeError:
            raise EventStreamError(f"line {number}: not UTF-8 text") from None
    try:
        return _DECODER.decode(line)
    except msgspec.ValidationError as error:
        raise EventStreamError(f"line {number}: not an event ({error})") from None
    except msgspec.DecodeError as error:
        raise EventStreamError(f"line {number}: not JSON ({error})") from None
    except RecursionError:
        raise EventStreamError(f"line {number}: not JSON (nested too deep)") from None


def _complete_lines(lines: Iterable[str | bytes], strict_tail: bool) -> Iterator[tuple[int, str | bytes]]:
    """The lines with their numbers (from 1). A last line without its newline is a write in
    progress (or a crash mid-line) and is left out, unless ``strict_tail``."""
    pending: str | bytes | None = None
    number = 0
    for raw in lines:
        if pending is not None:
            yield number, pending
        number += 1
        pending = raw
    if pending is None:
        return
    if strict_tail or pending.endswith(b"\n" if isinstance(pending, bytes) else "\n"):
        yield number, pending


def iter_events(
    lines: Iterable[str | bytes] | IO[str], *, strict_tail: bool = False, damaged: list[int] | None = None
) -> Iterator[AnyEvent]:
    """Parse event lines, skipping those that are not events (their line numbers are added
    to ``damaged``); a half-written last line is left out, not counted, unless ``strict_tail``."""
    for number, line in _complete_lines(lines, strict_tail):
        try:
            yield parse_event(line, number)
        except EventStreamError:
            if damaged is not None:
                damaged.append(number)


def one_history(events: Iterable[AnyEvent]) -> list[AnyEvent]:
    """A run's events as one history: a resumed segment's ``start`` supersedes the step, val
    and checkpoint events that earlier segments logged past the step it resumed from (a
    run killed after its checkpoint redoes those steps), so steps never go backwards."""
    kept: list[AnyEvent] = []
    for event in events:
        if isinstance(event, Start) and event.resumed_from:
            resumed_at = event.start_step or 0
            kept = [earlier for earlier in kept if not _logged_past(earlier, resumed_at)]
        kept.append(event)
    return kept


def _logged_past(event: AnyEvent, step: int) -> bool:
    return isinstance(event, (Step, Val, Checkpoint)) and (event.step or 0) > step


@dataclass
class EventLog:
    """What an events file holds: its events in file order and the lines skipped."""

    events: list[AnyEvent] = field(default_factory=list)
    damaged: list[int] = field(default_factory=list)  # line numbers of lines that are not events
    problem: str | None = None  # why the first of them is not an event

    def history(self) -> list[AnyEvent]:
        """The events as one history (see :func:`one_history`)."""
        return one_history(self.events)


def read_event_log(path: Path | str) -> EventLog:
    """Every event of an ``events.jsonl`` file (a regular file: OSError for anything else),
    the numbers of its damaged lines and why the first is not an event."""
    log = EventLog()
    with open_regular(path) as stream:
        for number, line in _complete_lines(_bounded_lines(stream), False):
            try:
                log.events.append(parse_event(line, number))
            except EventStreamError as error:
                log.damaged.append(number)
                log.problem = log.problem or str(error)
    return log


def _bounded_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The stream's lines, a line longer than a tail reads cut to that length (not an event)."""
    while line := stream.readline(_MAX_READ):
        if len(line) == _MAX_READ and not line.endswith(b"\n"):
            while (rest := stream.readline(_MAX_READ)) and not rest.endswith(b"\n"):
                pass
            line += b"\n"
        yield line


def read_events(path: Path | str) -> list[dict[str, Any]]:
    """All complete events of an ``events.jsonl`` file as written, in file order, as plain
    dicts (with the fields the classes leave out: the whole config, a writer's additions);
    lines that are not events are skipped (see :func:`read_event_log` for their count)."""
    with open_regular(path) as stream:
        return [record for _, line in _complete_lines(stream, False) if (record := _record(line)) is not None]


def _record(line: bytes) -> dict[str, Any] | None:
    """An event's line as a plain dict; None for a line that is not an event."""
    try:
        parse_event(line)
        return _RECORD_DECODER.decode(line)
    except (EventStreamError, msgspec.DecodeError):
        return None  # not an event; or an integer too long in a field readers do not know


class EventTail:
    """Follows a growing ``events.jsonl``: each :meth:`poll` returns the events completed
    since the previous one (a line still being written waits for its newline); lines that
    are not events are skipped, counted in :attr:`damaged`, the first's reason in :attr:`problem`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._offset = 0
        self._line = 0
        self.damaged = 0
        self.problem: str | None = None

    def poll(self) -> list[AnyEvent]:
        """New events; raises OSError for a file that cannot be read or is not a regular file."""
        try:
            with open_regular(self.path) as stream:
                stream.seek(self._offset)
                chunk = stream.read(_MAX_READ)
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n") + 1
        if end == 0 and len(chunk) == _MAX_READ:  # one line longer than a read: not an event
            self._offset += len(chunk)
            self.damaged += 1
            self.problem = self.problem or f"line {self._line + 1}: longer than {_MAX_READ:,} bytes"
            return []
        self._offset += end
        found = []
        for raw in chunk[:end].splitlines():
            self._line += 1
            try:
                found.append(parse_event(raw, self._line))
            except EventStreamError as error:
                self.damaged += 1
                self.problem = self.problem or str(error)
        return found
