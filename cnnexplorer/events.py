"""The event stream of training and evaluation runs: one JSON object per line.

This is the contract between ``cnnexplorer train``/``eval`` and anything that watches a
run (the app draws it live). It is free of torch and Textual so that readers stay light.

Every event carries ``schema`` (:data:`SCHEMA_VERSION`), ``event`` (its type) and
``time`` (Unix seconds). The fields of each type are listed in :data:`EVENT_FIELDS`;
writers may add fields, readers must ignore the ones they do not know.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
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
    "error": ("kind", "message"),  # kinds: "interrupted", "nonfinite_loss", "data"
    "done": ("status", "summary"),  # status: "completed", "interrupted", "failed"
}


class EventStreamError(ValueError):
    """An events file that does not follow the contract."""


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


class EventWriter:
    """Appends events to a file and, optionally, to another stream (``--events -``).

    Every line is flushed as it is written, so a reader tailing the file sees whole events.
    A writer with no file and no stream (other ranks than 0) drops events.
    """

    def __init__(self, path: Path | None = None, echo: IO[str] | None = None) -> None:
        self.path = path
        self._file = open(path, "a", encoding="utf-8") if path is not None else None
        self._echo = echo

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        record = make_event(event, **fields)
        if self._file is None and self._echo is None:
            return record
        line = encode(record) + "\n"
        if self._file is not None:
            self._file.write(line)
            self._file.flush()
        if self._echo is not None:
            try:
                self._echo.write(line)
                self._echo.flush()
            except (BrokenPipeError, ValueError):
                # The reader went away (an app that quit): the run goes on, and the file
                # keeps the stream.
                self._echo = None
        return record

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_events(lines: Iterator[str] | IO[str], *, strict_tail: bool = False) -> Iterator[dict[str, Any]]:
    """Parse event lines. A last line without its newline is a write in progress (or a
    crash mid-line) and is skipped unless ``strict_tail``; any other bad line raises
    :class:`EventStreamError` naming its line number."""
    pending: str | None = None
    number = 0
    for raw in lines:
        if pending is not None:
            yield parse_event(pending, number)
        number += 1
        pending = raw
    if pending is None:
        return
    if pending.endswith("\n") or strict_tail:
        yield parse_event(pending, number)


def parse_event(line: str, number: int = 0) -> dict[str, Any]:
    """One line as an event; raises :class:`EventStreamError` naming line ``number``."""
    if not line.strip():
        raise EventStreamError(f"line {number}: empty line")
    try:
        event = json.loads(line)
    except json.JSONDecodeError as error:
        raise EventStreamError(f"line {number}: not JSON ({error.msg})") from None
    if not isinstance(event, dict) or "event" not in event or "schema" not in event:
        raise EventStreamError(f"line {number}: not an event (needs 'schema' and 'event')")
    if event["schema"] != SCHEMA_VERSION:
        raise EventStreamError(f"line {number}: schema {event['schema']!r}, this reader understands {SCHEMA_VERSION}")
    return event


def read_events(path: Path | str) -> list[dict[str, Any]]:
    """All complete events of an ``events.jsonl`` file, in order."""
    with open(path, encoding="utf-8") as stream:
        return list(iter_events(stream))


class EventTail:
    """Follows a growing ``events.jsonl``: each :meth:`poll` returns the events completed
    since the previous one (a line still being written waits for its newline)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._offset = 0
        self._line = 0

    def poll(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as stream:
                stream.seek(self._offset)
                chunk = stream.read()
        except FileNotFoundError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        found = []
        for raw in complete.decode("utf-8").splitlines(keepends=True):
            self._line += 1
            found.append(parse_event(raw, self._line))
        return found
