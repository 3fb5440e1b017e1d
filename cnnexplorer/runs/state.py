"""Runs as their event streams tell them: a run's state folded from its events, and the runs
found under a folder (``runs/``), read as they grow. Free of torch and Textual."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from cnnexplorer.runs.events import (
    AnyEvent,
    Checkpoint,
    Done,
    Error,
    EventLog,
    EventTail,
    LastVal,
    Start,
    Step,
    Summary,
    Val,
    read_event_log,
)
from cnnexplorer.runs.rundir import lock_holder


@dataclass
class RunState:
    """A run folded from its events: progress, curves, best figures and outcome.

    A resumed run appends a new ``start`` to the same events file: the state then holds the
    whole run (curves of every segment joined, best figures of all), while progress, rate
    and outcome are those of the latest segment."""

    command: str = "train"
    model: str | None = None
    status: str = "starting"
    run_dir: Path | None = None
    devices: list[str] = field(default_factory=list)  # one per process, e.g. ["cuda:0", "cuda:1"]
    epochs: int | None = None
    epoch: int = 0  # the epoch in progress (1-based), or the last one done
    step: int = 0
    steps_per_epoch: int | None = None
    max_steps: int | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, training loss)
    val: list[Val] = field(default_factory=list)  # the val events (the app's charts)
    best_top1: float | None = None
    best_top5: float | None = None
    lr: float | None = None
    img_per_s: float | None = None
    error: str | None = None
    resumable: bool = False
    last_checkpoint: str | None = None
    first_started_at: float | None = None  # the run's first start
    started_at: float | None = None  # the latest segment's start
    segment_start_step: int = 0  # steps already done when the latest segment started
    segments: int = 0
    seconds_before: float = 0.0  # time spent in the segments before the latest
    last_time: float | None = None
    damaged: str | None = None  # why its events file is damaged (lines that are not events, a special file)
    pace: SegmentPace = field(default_factory=lambda: SegmentPace())  # the latest segment's, for the ETA

    def apply(self, event: AnyEvent) -> None:
        """Fold one event into the state."""
        previous_time, self.last_time = self.last_time, event.time
        if previous_time is not None and self.started_at is not None and not isinstance(event, Start):
            self.pace.count(event, self.step, event.time - previous_time)
        match event:
            case Start():
                self._start(event, previous_time)
            case Step():
                self.epoch, self.step = event.epoch, event.step
                self.steps_per_epoch = event.steps_per_epoch
                self.lr, self.img_per_s = event.lr, event.img_per_s
                if event.loss is not None:
                    self.losses.append((event.step, event.loss))
            case Val():
                self.val.append(event)
                self.epoch = max(self.epoch, event.epoch)
                self._best(event.top1, event.top5)
                self._best(event.best_top1, None)
            case Checkpoint():
                self.last_checkpoint = event.path
                if event.kind == "last":
                    self.resumable = True
            case Error():
                self.error = f"{event.kind}: {event.message}"
            case Done():
                self.status = {"completed": "done", "interrupted": "cancelled"}.get(event.status, "failed")
                self._summary(event.summary or Summary())

    def _start(self, event: Start, previous_time: float | None) -> None:
        """A new segment: the first start of the run, or a resume appended to it."""
        if self.started_at is not None and previous_time is not None:
            self.seconds_before += max(0.0, previous_time - self.started_at)
        self.command = event.command
        self.model = event.model
        self.status = "running"
        self.run_dir = Path(event.run_dir) if event.run_dir else self.run_dir
        self.devices = list(event.devices) or [event.device or "cpu"]
        self.epochs = event.config.epochs
        self.max_steps = event.config.max_steps
        self.steps_per_epoch = event.steps_per_epoch
        self.step = self.segment_start_step = event.start_step or 0
        self.epoch = event.start_epoch or 0
        self.started_at = event.time
        self.pace = SegmentPace()
        self.first_started_at = self.first_started_at or self.started_at
        self.segments += 1
        self.error, self.resumable = None, False
        # What an earlier segment logged past the checkpoint it resumes from is redone.
        self.losses = [point for point in self.losses if point[0] <= self.step]
        self.val = [val for val in self.val if (val.step or 0) <= self.step]
        self.best_top1 = self.best_top5 = None
        for val in self.val:
            self._best(val.top1, val.top5)

    def _best(self, top1: float | None, top5: float | None) -> None:
        if top1 is not None and (self.best_top1 is None or top1 > self.best_top1):
            self.best_top1, self.best_top5 = top1, top5

    def _summary(self, summary: Summary) -> None:
        """The ``done`` summary's figures, where the step and val events did not carry them."""
        self.step = max(self.step, summary.steps or 0)
        self.epoch = max(self.epoch, summary.epochs or 0)
        last_val = summary.last_val or LastVal()
        best = summary.top1 if summary.best_top1 is msgspec.UNSET else summary.best_top1
        top5 = last_val.top5 if last_val.top1 == best else summary.top5
        self._best(best, top5)

    @property
    def name(self) -> str | None:
        """The run's folder name, which names the run."""
        return self.run_dir.name if self.run_dir is not None else None

    @property
    def total_steps(self) -> int | None:
        if self.epochs and self.steps_per_epoch:
            total = self.epochs * self.steps_per_epoch
            return min(total, self.max_steps) if self.max_steps else total
        return self.max_steps

    @property
    def progress(self) -> float | None:
        """Fraction of the run's steps done, if known."""
        total = self.total_steps
        return min(1.0, self.step / total) if total else None

    def eta_seconds(self, now: float | None = None) -> float | None:
        """Time left at the latest segment's own pace: the steps left at its time per step,
        and the validations left (one per epoch, the last one too) at its time per
        validation, counted down from its latest event to ``now`` (the wall clock by
        default). None where unknown: no pace yet, or the countdown has run out while work
        is left (a run slower than its pace so far; its next event says more)."""
        total = self.total_steps
        if self.status != "running" or not total or self.last_time is None:
            return None
        step_seconds = self.pace.step_seconds()
        if step_seconds is None:
            return None
        steps_left = max(0, total - self.step)
        validated = max((val.epoch for val in self.val), default=0)
        epochs = math.ceil(total / self.steps_per_epoch) if self.steps_per_epoch else validated
        vals_left = max(0, epochs - validated)
        finish = self.last_time + steps_left * step_seconds + vals_left * self.pace.validation_seconds()
        left = finish - (time.time() if now is None else now)
        if left <= 0:
            return None if steps_left or vals_left else 0.0
        return left

    def duration_seconds(self, now: float | None = None) -> float | None:
        """Time spent running, all segments together; a running one counts up to ``now``."""
        if self.started_at is None:
            return None
        end = (time.time() if now is None else now) if self.status == "running" else self.last_time
        return self.seconds_before + max(0.0, (end or self.started_at) - self.started_at)

    @property
    def label(self) -> str:
        label = "cancelled, resumable" if self.status == "cancelled" and self.resumable else self.status
        return f"{label}, damaged" if self.damaged and self.status != "damaged" else label


@dataclass
class SegmentPace:
    """A segment's pace, from the times between its events: training between step events
    (the time up to its first step event holds the start-up, counted only until a second
    step event comes), and each validation with the checkpoints written after it."""

    first_steps: int = 0
    first_seconds: float = 0.0
    steps: int = 0
    seconds: float = 0.0
    validations: int = 0
    validation_total: float = 0.0

    def count(self, event: AnyEvent, step_before: int, seconds: float) -> None:
        """``event`` came ``seconds`` after the one before it, which left the run at ``step_before``."""
        match event:
            case Step() if self.first_steps == 0:
                self.first_steps, self.first_seconds = event.step - step_before, seconds
            case Step():
                self.steps += event.step - step_before
                self.seconds += seconds
            case Val():
                self.validations += 1
                self.validation_total += seconds
            case Checkpoint():
                self.validation_total += seconds

    def step_seconds(self) -> float | None:
        steps, seconds = (self.steps, self.seconds) if self.steps > 0 else (self.first_steps, self.first_seconds)
        return seconds / steps if steps > 0 and seconds > 0 else None

    def validation_seconds(self) -> float:
        return self.validation_total / self.validations if self.validations else 0.0


def fold(events: Iterable[AnyEvent]) -> RunState:
    """The state after a sequence of events."""
    state = RunState()
    for event in events:
        state.apply(event)
    return state


def _settle(state: RunState, run_dir: Path, damaged_lines: int = 0, problem: str | None = None) -> RunState:
    """A run read from disk: where it is now, and whether it ended. One without a ``done``
    event is ``running`` while a process holds its folder's lock (a run started headless,
    or left running by an app that quit), else ``unfinished`` (killed). Lines that are not
    events mark it damaged; with no start event it is ``damaged`` and no more."""
    state.run_dir = run_dir  # the events name it as the trainer saw it; it may have moved
    if damaged_lines:
        lines = f"{damaged_lines} line{'s' if damaged_lines > 1 else ''} of events.jsonl"
        state.damaged = f"{lines} not events (first: {problem})"
        if not state.segments:
            state.status = "damaged"
            state.damaged = f"no start event; {state.damaged}"
    if state.status in ("starting", "running", "unfinished"):
        state.status = "running" if lock_holder(run_dir) is not None else "unfinished"
    state.resumable = (run_dir / "last.pt").exists() and state.status != "done"
    return state


def load_run(run_dir: Path) -> RunState:
    """A past run from its ``events.jsonl``; OSError where that cannot be read (or is not a
    regular file)."""
    return run_from_log(read_event_log(run_dir / "events.jsonl"), run_dir)


def run_from_log(log: EventLog, run_dir: Path) -> RunState:
    """A past run from its ``events.jsonl`` as read already (:func:`load_run` reads it)."""
    return _settle(fold(log.events), run_dir, len(log.damaged), log.problem)


def damaged_run(run_dir: Path, error: OSError) -> RunState:
    """A run folder whose events file cannot be read, as a run marked damaged with the reason."""
    reason = error.strerror or str(error)
    return RunState(status="damaged", run_dir=run_dir, damaged=f"events.jsonl cannot be read: {reason}")


class RunWatcher:
    """Follows every run under a folder (``runs/``): new runs appear, growing ones are read
    incrementally (a run started headless can be watched); one whose events file is damaged
    or cannot be read is listed, marked damaged with the reason. Safe to poll from one thread
    while another asks it to forget a run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._runs: dict[Path, tuple[EventTail, RunState]] = {}
        self._lock = threading.Lock()

    def poll(self) -> list[RunState]:
        """Every run, newest first, with the events written since the last poll."""
        with self._lock:
            if self.root.is_dir():
                for events in self.root.glob("*/events.jsonl"):
                    if events.parent not in self._runs:
                        self._runs[events.parent] = (EventTail(events), RunState())
            for run_dir, (tail, state) in list(self._runs.items()):
                self._runs[run_dir] = self._read(run_dir, tail, state)
            # A folder with no start yet and nothing damaged is not (yet) a run: one starting.
            listed = [run for run, (_, state) in self._runs.items() if state.segments or state.damaged]
            return [self._runs[run][1] for run in sorted(listed, reverse=True)]

    @staticmethod
    def _read(run_dir: Path, tail: EventTail, state: RunState) -> tuple[EventTail, RunState]:
        """The events since the last poll folded in; a file that cannot be read is read
        again from its start once it can."""
        try:
            events = tail.poll()
        except OSError as error:
            return EventTail(tail.path), damaged_run(run_dir, error)
        if state.status == "damaged" and not state.segments and not tail.damaged:
            state = RunState()  # unreadable at the last poll, readable now: read from its start
        for event in events:
            state.apply(event)
        return tail, _settle(state, run_dir, tail.damaged, tail.problem)

    def forget(self, run_dir: Path) -> None:
        """Read ``run_dir`` again from its first event at the next poll (a broken one too)."""
        with self._lock:
            self._runs.pop(run_dir, None)


def discover_runs(root: Path) -> list[RunState]:
    """Past runs under ``root``, newest first; damaged ones marked (see :class:`RunWatcher`)."""
    return RunWatcher(root).poll()


def shown_path(path: Path) -> str:
    """A path relative to the working directory when it lies below it (as a user would type it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
