"""What a person sees during a run: rich progress bars on a terminal, plain lines otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from cnnexplorer.runs.events import silence_broken_pipe


@dataclass
class StepStats:
    epoch: int
    epochs: int
    epoch_step: int
    steps_per_epoch: int
    loss: float
    lr: float
    img_per_s: float
    data_time: float


class PlainReporter:
    """One line per logged step and per validation, for logs and pipes."""

    def __init__(self, stream: IO[str], log_every: int) -> None:
        self.stream = stream
        self.log_every = log_every

    def message(self, text: str) -> None:
        if self.stream is None:
            return
        try:
            print(text, file=self.stream, flush=True)
        except (BrokenPipeError, ValueError):
            # The reader went away (an app that quit, leaving its job running): the run goes
            # on quietly; its events file keeps the record.
            silence_broken_pipe(self.stream)
            self.stream = None

    def begin_epoch(self, epoch: int, epochs: int, steps: int, done: int) -> None:
        pass

    def step(self, stats: StepStats, logged: bool) -> None:
        if logged:
            self.message(
                f"epoch {stats.epoch}/{stats.epochs} step {stats.epoch_step}/{stats.steps_per_epoch} "
                f"loss {stats.loss:.4f} lr {stats.lr:.4g} {stats.img_per_s:.1f} img/s data "
                f"{stats.data_time * 1000:.0f} ms/step"
            )

    def begin_validation(self, batches: int) -> None:
        pass

    def validation_batch(self, done: int, total: int) -> None:
        pass

    def end_epoch(self) -> None:
        pass

    def close(self) -> None:
        pass


class RichReporter(PlainReporter):
    """An epoch bar and a batch bar (ETA, loss, lr, img/s, data wait) on a terminal."""

    def __init__(self, stream: IO[str], log_every: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        super().__init__(stream, log_every)
        self.console = Console(file=stream, highlight=False)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=self.console,
        )
        self.progress.start()
        self.epoch_task = None
        self.batch_task = None

    def message(self, text: str) -> None:
        self.progress.console.print(text, markup=False)

    def begin_epoch(self, epoch: int, epochs: int, steps: int, done: int) -> None:
        if self.epoch_task is None:
            self.epoch_task = self.progress.add_task("epochs", total=epochs, completed=epoch - 1, info="")
        if self.batch_task is not None:
            self.progress.remove_task(self.batch_task)
        self.batch_task = self.progress.add_task(f"epoch {epoch}", total=steps, completed=done, info="")

    def step(self, stats: StepStats, logged: bool) -> None:
        info = (
            f"loss {stats.loss:.4f} lr {stats.lr:.3g} {stats.img_per_s:.0f} img/s data {stats.data_time * 1000:.0f} ms"
        )
        self.progress.update(self.batch_task, completed=stats.epoch_step, info=info)

    def begin_validation(self, batches: int) -> None:
        if self.batch_task is None:
            self.batch_task = self.progress.add_task("evaluating", total=batches, completed=0, info="")
        else:
            self.progress.update(self.batch_task, description="validating", total=batches, completed=0)

    def validation_batch(self, done: int, total: int) -> None:
        if self.batch_task is not None:
            self.progress.update(self.batch_task, completed=done)

    def end_epoch(self) -> None:
        if self.epoch_task is not None:
            self.progress.advance(self.epoch_task)

    def close(self) -> None:
        self.progress.stop()


class SilentReporter(PlainReporter):
    """For ranks other than 0."""

    def __init__(self) -> None:
        super().__init__(stream=None, log_every=0)  # type: ignore[arg-type]

    def message(self, text: str) -> None:
        pass

    def step(self, stats: StepStats, logged: bool) -> None:
        pass


def make_reporter(stream: IO[str], log_every: int, is_main: bool) -> PlainReporter:
    if not is_main:
        return SilentReporter()
    return RichReporter(stream, log_every) if stream.isatty() else PlainReporter(stream, log_every)
