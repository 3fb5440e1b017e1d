"""``metrics.csv``, derived from a run's event stream: one row per validated epoch, every
segment of a resumed run joined, so that no row is lost to a kill and an epoch's mean
training loss is over all its steps, resumed or not."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from cnnexplorer.runs.atomic import write_text_atomic
from cnnexplorer.runs.events import AnyEvent, Step, Val, read_event_log

METRICS_COLUMNS = ("epoch", "step", "train_loss", "val_loss", "val_top1", "val_top5", "lr", "seconds", "img_per_s")


def metrics_rows(history: list[AnyEvent]) -> list[dict[str, Any]]:
    """One row per epoch that has a val event, from its latest (an epoch validated at
    ``--max-steps`` and again once resumed to its end keeps the later); the training figures
    from the epoch's step event at that val's step, whose totals span the whole epoch."""
    steps: dict[tuple[int, int], Step] = {}
    rows: dict[int, dict[str, Any]] = {}
    for event in history:
        if isinstance(event, Step):
            steps[event.epoch, event.step] = event
        elif isinstance(event, Val):
            rows[event.epoch] = _row(event, steps.get((event.epoch, event.step or 0)))
    return [rows[epoch] for epoch in sorted(rows)]


def _row(val: Val, step: Step | None) -> dict[str, Any]:
    row = {"epoch": val.epoch, "step": val.step, "val_loss": val.loss, "val_top1": val.top1, "val_top5": val.top5}
    if step is None:
        return row
    seconds = step.epoch_seconds
    if step.epoch_loss_sum is not None and step.epoch_step:
        row["train_loss"] = step.epoch_loss_sum / step.epoch_step
    row["lr"] = step.lr
    if seconds is not None:
        row["seconds"] = round(seconds, 3)
        if step.epoch_images is not None and seconds > 0:
            row["img_per_s"] = round(step.epoch_images / seconds, 2)
    return row


def write_metrics_csv(run_dir: Path) -> None:
    """Write ``run_dir/metrics.csv`` whole from ``run_dir/events.jsonl``; raises OSError."""
    history = read_event_log(run_dir / "events.jsonl").history()
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=METRICS_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(metrics_rows(history))
    write_text_atomic(run_dir / "metrics.csv", text.getvalue())
