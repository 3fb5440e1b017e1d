"""Runs as their event streams tell them: a run's state folded from its events, and the runs
found under a folder (``runs/``), read as they grow. Free of torch and Textual."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnexplorer.events import EventStreamError, EventTail, read_events


@dataclass
class RunState:
    """A run folded from its events: progress, curves, best figures and outcome."""

    command: str = "train"
    model: str | None = None
    status: str = "starting"
    run_dir: Path | None = None
    devices: list[str] = field(default_factory=list)  # one per process, e.g. ["cuda:0", "cuda:1"]
    epochs: int | None = None
    epoch: int = 0
    step: int = 0
    steps_per_epoch: int | None = None
    max_steps: int | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, training loss)
    val: list[dict[str, Any]] = field(default_factory=list)  # val events
    best_top1: float | None = None
    best_top5: float | None = None
    lr: float | None = None
    img_per_s: float | None = None
    error: str | None = None
    resumable: bool = False
    last_checkpoint: str | None = None
    started_at: float | None = None
    last_time: float | None = None

    def apply(self, event: dict[str, Any]) -> None:
        """Fold one event into the state."""
        kind = event.get("event")
        self.last_time = event.get("time", self.last_time)
        if kind == "start":
            config = event.get("config", {})
            self.command = event.get("command", self.command)
            self.model = event.get("model")
            self.status = "running"
            self.run_dir = Path(event["run_dir"]) if event.get("run_dir") else None
            self.devices = list(event.get("devices") or [event.get("device", "cpu")])
            self.epochs = config.get("epochs")
            self.max_steps = config.get("max_steps")
            self.steps_per_epoch = event.get("steps_per_epoch")
            self.step = event.get("start_step", 0) or 0
            self.started_at = event.get("time")
        elif kind == "step":
            self.epoch, self.step = event["epoch"], event["step"]
            self.steps_per_epoch = event.get("steps_per_epoch", self.steps_per_epoch)
            self.lr, self.img_per_s = event.get("lr"), event.get("img_per_s")
            if event.get("loss") is not None:
                self.losses.append((event["step"], event["loss"]))
        elif kind == "val":
            self.val.append(event)
            if event.get("top1") is not None and (self.best_top1 is None or event["top1"] > self.best_top1):
                self.best_top1, self.best_top5 = event["top1"], event.get("top5")
        elif kind == "checkpoint":
            self.last_checkpoint = event.get("path")
            if event.get("kind") == "last":
                self.resumable = True
        elif kind == "error":
            self.error = f"{event.get('kind')}: {event.get('message')}"
        elif kind == "done":
            status = event.get("status")
            self.status = {"completed": "done", "interrupted": "cancelled"}.get(status, "failed")

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

    @property
    def eta_seconds(self) -> float | None:
        """Remaining time at the average pace since the start."""
        progress = self.progress
        if not progress or self.started_at is None or self.last_time is None or self.status != "running":
            return None
        return (self.last_time - self.started_at) * (1 - progress) / progress

    @property
    def label(self) -> str:
        if self.status == "cancelled" and self.resumable:
            return "cancelled, resumable"
        return self.status


def fold(events: list[dict[str, Any]]) -> RunState:
    """The state after a sequence of events."""
    state = RunState()
    for event in events:
        state.apply(event)
    return state


def _settle(state: RunState, run_dir: Path) -> RunState:
    """A run read from disk: where it is now, and whether it ended. One without a ``done``
    event is ``unfinished``: still running elsewhere (headless), or killed."""
    state.run_dir = run_dir  # the events name it as the trainer saw it; it may have moved
    if state.status in ("starting", "running"):
        state.status = "unfinished"
    state.resumable = (run_dir / "last.pt").exists() and state.status != "done"
    return state


def load_run(run_dir: Path) -> RunState:
    """A past run from its ``events.jsonl``."""
    return _settle(fold(read_events(run_dir / "events.jsonl")), run_dir)


class RunWatcher:
    """Follows every run under a folder (``runs/``): new runs appear, growing ones are read
    incrementally (a run started headless can be watched), unreadable ones are left out."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._runs: dict[Path, tuple[EventTail, RunState]] = {}
        self._broken: set[Path] = set()

    def poll(self) -> list[RunState]:
        """Every readable run, newest first, with the events written since the last poll."""
        if self.root.is_dir():
            for events in self.root.glob("*/events.jsonl"):
                if events.parent not in self._runs:
                    self._runs[events.parent] = (EventTail(events), RunState())
        for run_dir, (tail, state) in self._runs.items():
            if run_dir in self._broken:
                continue
            try:
                for event in tail.poll():
                    state.apply(event)
            except (OSError, EventStreamError, KeyError, TypeError):
                self._broken.add(run_dir)
                continue
            _settle(state, run_dir)
        readable = [run for run in self._runs if run not in self._broken]
        return [self._runs[run][1] for run in sorted(readable, reverse=True)]


def discover_runs(root: Path) -> list[RunState]:
    """Past runs under ``root``, newest first; unreadable ones left out."""
    return RunWatcher(root).poll()
