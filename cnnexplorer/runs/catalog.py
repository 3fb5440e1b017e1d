"""Finished (and running) runs read back from their folders, to list and compare them.

A run folder holds ``config.json`` (the resolved config, written whole), ``events.jsonl``
(the source of truth: every step, val and checkpoint event, resumed segments appended) and
``metrics.csv`` (derived from the events). Everything here is read as data with the safe
readers of this package; a run whose files are missing or damaged is still a
:class:`RunSummary`, with the reason in :attr:`RunSummary.problem`. Torch- and Textual-free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnexplorer.errors import UsageError
from cnnexplorer.runs.events import AnyEvent, Step, Val, read_event_log
from cnnexplorer.runs.jobs import RecordedConfig
from cnnexplorer.runs.safe_read import read_json
from cnnexplorer.runs.state import damaged_run, run_from_log

DEFAULT_RUNS_DIR = Path("runs")  # where `train` puts run folders without --output
RUN_FILES = ("events.jsonl", "config.json")  # a folder with either is a run folder


@dataclass(frozen=True)
class Validation:
    """One validation's figures (percent) and the epoch it closed."""

    val_top1: float | None
    val_top5: float | None
    epoch: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"val_top1": self.val_top1, "val_top5": self.val_top5, "epoch": self.epoch}


@dataclass
class RunSummary:
    """What a run folder says about its run: enough to list it and to compare it."""

    name: str  # the folder's name
    run_dir: Path
    model: str | None
    status: str  # done, running, unfinished, cancelled, failed or damaged (RunState.status)
    epoch: int  # the last epoch reached
    epochs: int | None  # the epochs it was set to train
    best: Validation | None  # the validation with the highest top-1 (the first of equals)
    final: Validation | None  # the last validation
    seconds: float | None  # wall time, every segment together
    img_per_s: float | None  # training images per second over every epoch's training time
    config: dict[str, Any]  # config.json as written ({} where it cannot be read)
    problem: str | None = None  # why the run is damaged, in one line; None when it is whole
    history: list[AnyEvent] = field(default_factory=list, repr=False)  # its events, segments joined


def read_run(run_dir: Path) -> RunSummary:
    """The summary of the run in ``run_dir``; never raises for what its files hold."""
    run_dir = Path(run_dir)
    problems: list[str] = []
    try:
        log = read_event_log(run_dir / "events.jsonl")
        state, history = run_from_log(log, run_dir), log.history()
    except OSError as error:
        state, history = damaged_run(run_dir, error), []
    if state.damaged:
        problems.append(state.damaged)
    config = _config(run_dir, problems)
    validations = [event for event in history if isinstance(event, Val)]
    return RunSummary(
        name=run_dir.name,
        run_dir=run_dir,
        model=state.model or _text(config.get("model")),
        status=state.status,
        epoch=state.epoch,
        epochs=state.epochs,
        best=_figures(max(validations, key=_top1, default=None)),
        final=_figures(validations[-1] if validations else None),
        seconds=state.duration_seconds(),
        img_per_s=_img_per_s(history),
        config=config,
        problem="; ".join(problems) or None,
        history=history,
    )


def _config(run_dir: Path, problems: list[str]) -> dict[str, Any]:
    try:
        return read_json(run_dir / "config.json", RecordedConfig)
    except OSError as error:
        problems.append(f"config.json cannot be read: {error.strerror or error}")
    except ValueError as error:
        problems.append(f"config.json is damaged: {error}")
    return {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _top1(val: Val) -> float:
    return val.top1 if val.top1 is not None else float("-inf")


def _figures(val: Val | None) -> Validation | None:
    return None if val is None else Validation(val.top1, val.top5, val.epoch)


def _img_per_s(history: list[AnyEvent]) -> float | None:
    """Each epoch's training images over its training time (its latest step event carries the
    epoch's totals, over every segment), summed over the epochs."""
    totals: dict[int, Step] = {}
    for event in history:
        if isinstance(event, Step) and event.epoch_images is not None and event.epoch_seconds is not None:
            totals[event.epoch] = event
    seconds = sum(step.epoch_seconds for step in totals.values())
    return sum(step.epoch_images for step in totals.values()) / seconds if seconds > 0 else None


def is_run_folder(folder: Path) -> bool:
    return any((folder / name).exists() or (folder / name).is_symlink() for name in RUN_FILES)


def list_runs(runs_dir: Path) -> list[RunSummary]:
    """Every run folder under ``runs_dir`` (damaged ones too), newest first; a one-line
    UsageError when ``runs_dir`` is not a folder."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise UsageError(f"no runs folder {runs_dir}: train a model first, or give --runs-dir DIR")
    try:
        folders = [entry for entry in runs_dir.iterdir() if entry.is_dir() and is_run_folder(entry)]
    except OSError as error:
        raise UsageError(f"cannot list {runs_dir}: {error.strerror or error}") from None
    summaries = [read_run(folder) for folder in folders]
    return sorted(summaries, key=lambda run: (_started(run), run.name), reverse=True)


def _started(run: RunSummary) -> float:
    """When the run first started; the folder's change time where no start event says."""
    starts = [event.time for event in run.history[:1]]
    if starts:
        return float(starts[0])
    try:
        return os.stat(run.run_dir).st_mtime
    except OSError:
        return 0.0


def find_run(text: str, runs_dir: Path) -> Path:
    """The run folder a RUN argument names: a folder path, or a folder name under
    ``runs_dir``; a one-line UsageError for anything else."""
    given = Path(text)
    for candidate in (given, Path(runs_dir) / text):
        if candidate.is_dir():
            if not is_run_folder(candidate):
                raise UsageError(f"{candidate} is not a run folder (it has no events.jsonl or config.json)")
            return candidate
    raise UsageError(f"no run {text!r}: not a run folder, nor a run under {runs_dir} (`cnnexplorer runs` lists them)")
