"""Runs side by side: the config fields that differ, a metric's curve per run (resumed
segments joined into one), and the JSON of ``cnnexplorer runs compare`` (schema 1, in the
README). Torch- and Textual-free; the runs come from :mod:`cnnexplorer.runs.catalog`.
"""

from __future__ import annotations

from typing import Any

from cnnexplorer.runs.catalog import RunSummary, Validation
from cnnexplorer.runs.events import Step, Val
from cnnexplorer.runs.metrics_csv import metrics_rows

COMPARE_SCHEMA = 1
METRICS = ("train_loss", "val_loss", "val_top1", "val_top5", "lr")
X_AXES = ("step", "epoch")
# Config fields that say where a run is, not how it trains: they differ between any two runs.
IDENTITY_FIELDS = frozenset({"run_dir"})

_VAL_FIELDS = {"val_loss": "loss", "val_top1": "top1", "val_top5": "top5"}
_STEP_FIELDS = {"train_loss": "loss", "lr": "lr"}
_NO_VALIDATION = Validation(None, None, None)


def config_diff(runs: list[RunSummary]) -> dict[str, list[Any]]:
    """Each config field whose value is not the same in every run whose config.json was read
    (a field one of them lacks counts as None), with one value per run (None for a run whose
    config is unknown: it takes no part); identity fields left out."""
    known = [run.config for run in runs if run.config]
    names = [name for name in dict.fromkeys(name for config in known for name in config) if name not in IDENTITY_FIELDS]
    differing = [name for name in names if any(config.get(name) != known[0].get(name) for config in known)]
    return {name: [run.config.get(name) for run in runs] for name in differing}


def series(run: RunSummary, metric: str, x: str = "step") -> list[tuple[int, float]]:
    """The run's ``metric`` as (x, value) points, x ascending, every segment of a resumed run
    in one curve. By step: each step event (train_loss: the mean over the steps since the
    previous one; lr: the rate those steps used) or val event. By epoch: metrics.csv's row of
    each validated epoch (train_loss: the epoch's mean)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: one of {', '.join(METRICS)}")
    if x not in X_AXES:
        raise ValueError(f"unknown x axis {x!r}: step or epoch")
    if x == "epoch":
        rows = metrics_rows(run.history)
        return [(row["epoch"], row[metric]) for row in rows if row.get(metric) is not None]
    if metric in _STEP_FIELDS:
        name, kind = _STEP_FIELDS[metric], Step
    else:
        name, kind = _VAL_FIELDS[metric], Val
    points = [(event.step, getattr(event, name)) for event in run.history if isinstance(event, kind)]
    return [(step, value) for step, value in points if step is not None and value is not None]


def compare_json(runs: list[RunSummary], metrics: tuple[str, ...] = METRICS, x: str = "step") -> dict[str, Any]:
    """``runs compare --format json``: each run's model, config, best and final validation,
    the config fields that differ, and each metric's points per run."""
    return {
        "schema": COMPARE_SCHEMA,
        "runs": [
            {
                "run": run.name,
                "model": run.model,
                "config": run.config,
                "best": (run.best or _NO_VALIDATION).as_dict(),
                "final": (run.final or _NO_VALIDATION).as_dict(),
            }
            for run in runs
        ],
        "config_diff": config_diff(runs),
        "series": {metric: [[list(point) for point in series(run, metric, x)] for run in runs] for metric in metrics},
    }
