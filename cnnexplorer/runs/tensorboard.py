"""A run's events as TensorBoard scalars and its config as hparams, written with
``torch.utils.tensorboard`` (the ``tensorboard`` package: ``pip install 'cnnexplorer[tensorboard]'``).

Tags are ``step/METRIC`` at the optimizer step (each step and val event) and
``epoch/METRIC`` at the epoch (each validated epoch's metrics.csv row), METRIC one of
:data:`~cnnexplorer.runs.compare.METRICS`: what ``runs compare`` draws, point for point.
``runs export`` writes a run from its events (resumed segments joined), as ``runs compare``
reads them. ``train --tensorboard`` writes them live from rank 0's events as they are
emitted: a resumed segment purges the steps it redoes (TensorBoard's ``purge_step``), and
epoch/ tags come only from whole epochs (a run stopped mid-epoch gets that epoch's point from
``runs export``, and a validation logged past the checkpoint a kill resumed from stays); the
hparams are the config the run started with (TensorBoard keeps a run's first), where
``runs export`` writes config.json's, a resume's --epochs and --max-steps included.

Torch is imported only when a writer is made, so the package stays light to import.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from cnnexplorer.errors import UsageError
from cnnexplorer.runs.catalog import RunSummary
from cnnexplorer.runs.compare import IDENTITY_FIELDS, METRICS
from cnnexplorer.runs.events import AnyEvent, EventWriter, Start, Step, Val, encode, parse_event
from cnnexplorer.runs.metrics_csv import metrics_rows

MISSING_EXTRA = "TensorBoard is not installed: pip install 'cnnexplorer[tensorboard]' (or pip install tensorboard)"
# The metrics the hparams view shows for each run: the last value of these tags.
HPARAM_METRICS = ("epoch/val_top1", "epoch/val_top5", "epoch/val_loss")


def check_installed() -> None:
    """A one-line UsageError naming the extra when ``tensorboard`` cannot be imported."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise UsageError(MISSING_EXTRA) from None


def check_folder(root: Path) -> None:
    """Create ``root`` (the --tensorboard folder); a one-line UsageError where it cannot be one."""
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(f"--tensorboard {root}: it (or a folder above it) is a file, not a folder") from None
    except OSError as error:
        raise UsageError(f"--tensorboard {root}: cannot create it: {error.strerror or error}") from None


def _summary_writer(log_dir: Path, purge_step: int | None = None):
    check_installed()
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(log_dir), purge_step=purge_step)


def step_scalars(event: AnyEvent) -> list[tuple[str, float, int]]:
    """(tag, value, step) of a step or val event's figures."""
    if isinstance(event, Step):
        figures = {"train_loss": event.loss, "lr": event.lr}
    elif isinstance(event, Val) and event.step is not None:
        figures = {"val_loss": event.loss, "val_top1": event.top1, "val_top5": event.top5}
    else:
        return []
    return [(f"step/{name}", value, event.step) for name, value in figures.items() if value is not None]


def epoch_scalars(row: dict[str, Any]) -> list[tuple[str, float, int]]:
    """(tag, value, epoch) of a metrics.csv row."""
    return [(f"epoch/{name}", row[name], row["epoch"]) for name in METRICS if row.get(name) is not None]


def hparams_of(config: dict[str, Any]) -> dict[str, bool | int | float | str]:
    """The config as hparams: numbers, flags and texts as they are, anything else (None, a
    list) as its JSON text; identity fields (the run's folder) left out."""
    return {
        name: value if isinstance(value, (bool, int, float, str)) else json.dumps(value)
        for name, value in config.items()
        if name not in IDENTITY_FIELDS
    }


class TensorBoardRun:
    """One run's TensorBoard folder, written scalar by scalar."""

    def __init__(self, log_dir: Path, purge_step: int | None = None) -> None:
        self.log_dir = log_dir
        self._writer = _summary_writer(log_dir, purge_step)

    def add_config(self, config: dict[str, Any]) -> None:
        from torch.utils.tensorboard.summary import hparams

        for summary in hparams(hparams_of(config), dict.fromkeys(HPARAM_METRICS, 0.0)):
            self._writer.file_writer.add_summary(summary)

    def add(self, scalars: list[tuple[str, float, int]]) -> None:
        for tag, value, x in scalars:
            self._writer.add_scalar(tag, value, x)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def export_run(run: RunSummary, root: Path) -> Path:
    """Write ``run`` (its events, segments joined, and its config) to ``root/<run name>``; a
    one-line UsageError where that folder already holds files (nothing is overwritten)."""
    check_folder(root)
    log_dir = Path(root) / run.name
    try:
        if log_dir.exists() and any(log_dir.iterdir()):
            raise UsageError(f"{log_dir} already holds files: export to another --tensorboard folder, or remove it")
    except OSError as error:
        raise UsageError(f"cannot write {log_dir}: {error.strerror or error}") from None
    board = TensorBoardRun(log_dir)
    try:
        if run.config:
            board.add_config(run.config)
        for event in run.history:
            board.add(step_scalars(event))
        for row in metrics_rows(run.history):
            board.add(epoch_scalars(row))
    finally:
        board.close()
    return log_dir


class LiveTensorBoard:
    """A run's events written to TensorBoard as they are emitted (``train --tensorboard``):
    the run's folder under ``root`` opens at its start event, named as the run folder."""

    def __init__(self, root: Path) -> None:
        check_installed()
        check_folder(root)
        self.root = Path(root)
        self._board: TensorBoardRun | None = None
        self._last_step: Step | None = None  # a val event's training figures: the step event before it

    def add(self, record: dict[str, Any]) -> None:
        event = parse_event(encode(record))  # what a reader of events.jsonl gets
        if isinstance(event, Start):
            self._open(event, record.get("config") or {})
            return
        if self._board is None:
            return
        self._board.add(step_scalars(event))
        if isinstance(event, Step):
            self._last_step = event
        elif isinstance(event, Val) and _closes_epoch(self._last_step, event):
            for row in metrics_rows([self._last_step, event]):
                self._board.add(epoch_scalars(row))
            self._board.flush()  # an epoch's figures, on disk for a TensorBoard watching

    def _open(self, start: Start, config: dict[str, Any]) -> None:
        self.close()
        name = Path(start.run_dir).name if start.run_dir else "run"
        purge = (start.start_step or 0) + 1 if start.resumed_from else None
        self._board = TensorBoardRun(self.root / name, purge)
        if not start.resumed_from:  # TensorBoard keeps a run's first hparams: a resume's would be ignored
            self._board.add_config(config)

    def close(self) -> None:
        if self._board is not None:
            self._board.close()
            self._board = None


def _closes_epoch(step: Step | None, val: Val) -> bool:
    """Whether ``val`` validates a whole epoch (not one a run stopped in, at --max-steps or a
    signal, which its resume validates again)."""
    return step is not None and step.step == val.step and step.epoch_step == step.steps_per_epoch


class TensorBoardEventWriter(EventWriter):
    """An :class:`EventWriter` whose events also go to TensorBoard, live."""

    def __init__(self, path: Path | None, echo: IO[str] | None, tensorboard: LiveTensorBoard) -> None:
        super().__init__(path, echo)
        self.tensorboard = tensorboard

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        record = super().emit(event, **fields)
        self.tensorboard.add(record)
        return record

    def close(self) -> None:
        super().close()
        self.tensorboard.close()
