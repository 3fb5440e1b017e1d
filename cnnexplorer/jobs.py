"""Training and evaluation jobs as child processes, and what their event streams say.

Textual-free: the app's jobs screen renders :class:`RunState` objects and routes keys.
A job runs the same command line a user would type (``python -m cnnexplorer train ...``,
or torchrun for several GPUs, which ``train --gpus`` launches itself) with ``--events -``:
events arrive on the child's stdout, its human-readable lines on stderr.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cnnexplorer.events import EventStreamError, EventTail, parse_event, read_events

STATUSES = ("starting", "running", "done", "failed", "cancelled", "unfinished")


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


def thin(points: list[tuple[int, float]], most: int = 600) -> list[tuple[int, float]]:
    """Every k-th point (and the last), so that a chart draws at most ``most`` of them."""
    if len(points) <= most:
        return points
    step = len(points) / (most - 1)
    return [points[int(i * step)] for i in range(most - 1)] + [points[-1]]


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average, debiased as TensorBoard does."""
    smoothed, average = [], 0.0
    for index, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        smoothed.append(average / (1 - weight**index))
    return smoothed


_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 16) -> str:
    """A one-line chart of the last values, resampled to ``width`` characters."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return ""
    if len(finite) > width:
        step = len(finite) / width
        finite = [finite[int(i * step)] for i in range(width - 1)] + [finite[-1]]
    low, high = min(finite), max(finite)
    scale = (len(_BLOCKS) - 1) / (high - low) if high > low else 0
    return "".join(_BLOCKS[int((v - low) * scale)] for v in finite)


@dataclass
class TrainForm:
    """The fields of the launch form; :func:`validate` checks them, :func:`command` builds the
    command line. ``device`` is ``cpu``, ``cuda:N`` or ``gpus:0,1`` (DDP)."""

    model: str
    kind: str = "train"  # or "eval"
    data: str = ""  # ImageFolder root; empty for synthetic data
    epochs: str = "1"
    batch_size: str = "32"
    lr: str = ""  # empty: the recipe's
    optimizer: str = "sgd"
    device: str = "cpu"
    amp: str = ""  # "", "bf16" or "fp16"
    channels_last: bool = False
    seed: str = "0"
    output: str = "runs"
    max_steps: str = ""
    checkpoint: str = ""  # eval: a .pt file


def _positive_int(text: str, name: str, errors: dict[str, str], required: bool = True) -> None:
    if not text.strip() and not required:
        return
    if not text.strip().isdigit() or int(text) < 1:
        errors[name] = "a whole number of 1 or more"


def validate(form: TrainForm) -> dict[str, str]:
    """Field name -> what is wrong with it; empty when the form can launch."""
    errors: dict[str, str] = {}
    if form.data and not Path(form.data).is_dir():
        errors["data"] = f"no such folder: {form.data}"
    elif form.data and not (Path(form.data) / ("val" if form.kind == "eval" else "train")).is_dir():
        errors["data"] = f"expected {form.data}/{'val' if form.kind == 'eval' else 'train'}/<class>/... (ImageFolder layout)"
    _positive_int(form.batch_size, "batch_size", errors)
    if form.kind == "train":
        _positive_int(form.epochs, "epochs", errors)
        _positive_int(form.max_steps, "max_steps", errors, required=False)
        if form.lr.strip():
            try:
                if not 0 < float(form.lr) < 10:
                    errors["lr"] = "between 0 and 10"
            except ValueError:
                errors["lr"] = "a number, e.g. 0.1"
        if not form.seed.strip().isdigit():
            errors["seed"] = "a whole number of 0 or more"
        if not form.output.strip():
            errors["output"] = "a folder for the run directory"
    elif not Path(form.checkpoint).is_file():
        errors["checkpoint"] = f"no such file: {form.checkpoint}" if form.checkpoint else "a last.pt/best.pt to evaluate"
    if not (form.device == "cpu" or form.device.startswith(("cuda:", "gpus:"))):
        errors["device"] = "cpu, cuda:N or gpus:0,1"
    return errors


def command(form: TrainForm, python: str = sys.executable) -> list[str]:
    """The command line a form launches (the same as typing it in a shell)."""
    argv = [python, "-m", "cnnexplorer", form.kind, form.model, "--events", "-", "--workers", "0"]
    argv += ["--data", form.data] if form.data else ["--dataset", "fake"]
    argv += ["--batch-size", form.batch_size]
    if form.device.startswith("gpus:"):
        argv += ["--gpus", form.device.split(":", 1)[1]]
    else:
        argv += ["--device", form.device]
    if form.amp:
        argv += ["--amp", form.amp]
    if form.channels_last:
        argv.append("--channels-last")
    if form.kind == "eval":
        return argv + ["--checkpoint", form.checkpoint]
    argv += ["--epochs", form.epochs, "--optimizer", form.optimizer, "--seed", form.seed, "--output", form.output]
    if form.lr.strip():
        argv += ["--lr", form.lr.strip()]
    if form.max_steps.strip():
        argv += ["--max-steps", form.max_steps.strip()]
    return argv


def resume_command(state: RunState, python: str = sys.executable) -> list[str]:
    """Resume a stopped run from its ``last.pt`` with the configuration it was started with."""
    if state.run_dir is None or not (state.run_dir / "last.pt").exists():
        raise ValueError("this run has no last.pt to resume from")
    config = json.loads((state.run_dir / "config.json").read_text())
    argv = [python, "-m", "cnnexplorer", "train", config["model"], "--events", "-", "--workers", "0"]
    return argv + _placement(state.devices) + ["--resume", str(state.run_dir / "last.pt")]


def _placement(devices: list[str]) -> list[str]:
    """The device flags that put a resumed run where it ran before (same process count)."""
    if len(devices) > 1 and all(d.startswith("cuda:") for d in devices):
        return ["--gpus", ",".join(d.split(":")[1] for d in devices)]
    if len(devices) > 1:
        return ["--nproc", str(len(devices)), "--device", "cpu"]
    return ["--device", devices[0]] if devices else []


class Job:
    """One child process and the state its events build.

    ``on_update`` is called (from a reader thread) after every event or log line; the
    caller marshals it to its own thread and throttles redraws.
    """

    def __init__(self, argv: list[str], cwd: Path | None = None) -> None:
        self.argv = argv
        self.cwd = cwd
        # Until the start event says more: `python -m cnnexplorer COMMAND MODEL ...`.
        ours = argv[1:3] == ["-m", "cnnexplorer"] and len(argv) > 4
        self.state = RunState(command=argv[3] if ours else "train", model=argv[4] if ours else None)
        self.log: deque[str] = deque(maxlen=200)
        self.returncode: int | None = None
        self._process: subprocess.Popen[str] | None = None
        self._log_reader: threading.Thread | None = None

    @property
    def command_line(self) -> str:
        """The command as one shell line, to copy into a terminal."""
        shown = ["cnnexplorer", *self.argv[3:]] if self.argv[1:3] == ["-m", "cnnexplorer"] else self.argv
        return shlex.join(shown)

    @property
    def running(self) -> bool:
        return self._process is not None and self.returncode is None

    def start(self, on_update: Callable[[Job], None]) -> None:
        """Start the child and its two reader threads."""
        self._process = subprocess.Popen(
            self.argv, cwd=self.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
            start_new_session=True,  # a ctrl+c in the app's terminal is not the job's
        )  # fmt: skip
        self.state.status = "starting"
        self._log_reader = threading.Thread(target=self._read_log, args=(on_update,), daemon=True)
        self._log_reader.start()
        threading.Thread(target=self._read_events, args=(on_update,), daemon=True).start()

    def _read_events(self, on_update: Callable[[Job], None]) -> None:
        assert self._process is not None and self._process.stdout is not None
        # Keep draining stdout whatever a line holds: a reader that stopped would leave
        # the child blocked on a full pipe.
        for line in self._process.stdout:
            try:
                self.state.apply(parse_event(line))
            except (EventStreamError, KeyError, TypeError, ValueError):
                self.log.append(line.rstrip())
            on_update(self)
        self.returncode = self._process.wait()
        self._log_reader.join(timeout=5)  # the child's last stderr lines explain its exit
        if self.state.status in ("starting", "running"):  # exited without a 'done' event
            self.state.status = "cancelled" if self.returncode in (130, 143) else "failed"
            if self.state.status == "failed" and self.state.error is None:
                tail = next((line for line in reversed(list(self.log)) if line.strip()), "")
                self.state.error = f"exit code {self.returncode}: {tail}"
        on_update(self)

    def _read_log(self, on_update: Callable[[Job], None]) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            self.log.append(line.rstrip())
            on_update(self)

    def cancel(self) -> None:
        """Ask the child to stop: it finishes its step, writes last.pt and exits 130."""
        if self.running and self._process is not None:
            self._process.send_signal(signal.SIGINT)

    def kill(self) -> None:
        """Stop the child's whole process group now (torchrun and its ranks included)."""
        if self.running and self._process is not None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the child to exit; returns its exit code (None on timeout)."""
        if self._process is None:
            return self.returncode
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
