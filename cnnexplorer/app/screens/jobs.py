"""The jobs screen: every job started from the app and every run found under runs/, with
live loss and validation curves drawn by plotext. Redraws are throttled: events are folded
into each job's state as they arrive (in reader threads); this screen repaints on a timer."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Log, Static
from textual_plotext import PlotextPlot

from cnnexplorer.app.access import explorer_app
from cnnexplorer.app.charts import smooth, sparkline, thin
from cnnexplorer.jobs import Job
from cnnexplorer.runs import RunState, RunWatcher, load_run

REDRAW_SECONDS = 0.3
DETAIL_DELAY = 0.08
RESCAN_SECONDS = 3.0


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


def _shown_path(path: Path) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class JobsScreen(Screen[None]):
    """Watch jobs and past runs; cancel, resume, reopen."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Explorer"),
        Binding("c", "cancel_job", "Cancel job"),
        Binding("r", "resume_run", "Resume"),
        Binding("o", "open_run", "Reload run"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._past: list[RunState] = []
        self._watcher: RunWatcher | None = None
        self._selected: str | None = None
        self._drawn: dict[str, tuple] = {}  # row key -> what was last drawn (to skip idle redraws)
        self._pending_draw: Timer | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="jobs-body"):
            yield DataTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="job-detail"):
                yield Static(id="job-header")
                with Horizontal(id="job-charts"):
                    yield PlotextPlot(id="loss-chart")
                    yield PlotextPlot(id="val-chart")
                yield Log(id="job-log", max_lines=200)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in ("model", "kind", "status", "epoch", "top-1", "top-5", "loss"):
            table.add_column(column, key=column)
        self.rescan()
        self.refresh_jobs()
        self.set_interval(REDRAW_SECONDS, self.refresh_jobs)
        self.set_interval(RESCAN_SECONDS, self.rescan)
        self.query_one(DataTable).focus()

    # Data -----------------------------------------------------------------------------

    def _entries(self) -> dict[str, tuple[RunState, Job | None]]:
        entries: dict[str, tuple[RunState, Job | None]] = {}
        jobs = explorer_app(self).jobs
        for index, job in reversed(list(enumerate(jobs))):
            entries[f"job-{index}"] = (job.state, job)
        live_dirs = {job.state.run_dir for job in jobs}
        for state in self._past:
            if state.run_dir not in live_dirs:
                entries[f"run-{state.run_dir}"] = (state, None)
        return entries

    @work(thread=True, exclusive=True, group="runs")
    def rescan(self) -> None:
        """Read what runs/ gained since the last look, off the UI thread."""
        if self._watcher is None:
            self._watcher = RunWatcher(explorer_app(self).runs_dir)
        self._past = self._watcher.poll()

    def refresh_jobs(self) -> None:
        """Update the rows and the selected job's view if anything changed since last time."""
        table = self.query_one(DataTable)
        entries = self._entries()
        for key, (state, job) in entries.items():
            signature = (state.status, state.step, len(state.val), len(job.log) if job else 0, state.error)
            if self._drawn.get(key) == signature:
                continue
            cells = self._cells(state)
            if key in table.rows:
                for column, value in zip(("model", "kind", "status", "epoch", "top-1", "top-5", "loss"), cells):
                    table.update_cell(key, column, value)
            else:
                table.add_row(*cells, key=key)
            self._drawn[key] = signature
            if key == self._selected:
                self._draw_detail(state, job)
        if self._selected is None and entries:
            self._select(next(iter(entries)))

    @staticmethod
    def _cells(state: RunState) -> list[str | Text]:
        epoch = f"{state.epoch}/{state.epochs}" if state.epochs else str(state.epoch)
        style = {"running": "green", "failed": "red", "cancelled": "yellow", "unfinished": "yellow"}.get(
            state.status, ""
        )
        return [
            state.model or "?",
            state.command,
            Text(state.label, style=style),
            epoch,
            _percent(state.best_top1),
            _percent(state.best_top5),
            sparkline([loss for _, loss in state.losses]),
        ]

    def _select(self, key: str) -> None:
        self._selected = key
        entry = self._entries().get(key)
        if entry is not None:
            self._draw_detail(*entry)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # The cursor moves at once; the charts follow once it rests (plotext redraws cost
        # tens of ms, too much to pay for every row passed over).
        if event.row_key.value is not None:
            if self._pending_draw is not None:
                self._pending_draw.stop()
            self._pending_draw = self.set_timer(DETAIL_DELAY, partial(self._select, event.row_key.value))

    # Drawing ----------------------------------------------------------------------------

    def _draw_detail(self, state: RunState, job: Job | None) -> None:
        header = Text()
        header.append(f"{state.command} {state.model or ''}", style="bold")
        header.append(f"   {state.label}", style="bold")
        if job is not None:
            header.append(f"\n$ {job.command_line}", style="dim")
        elif state.run_dir is not None:
            header.append(f"\n{_shown_path(state.run_dir)}", style="dim")
        progress = state.progress
        line = f"\nstep {state.step}" + (f"/{state.total_steps}" if state.total_steps else "")
        if progress is not None:
            line += f" ({100 * progress:.0f}%)  ETA {_duration(state.eta_seconds)}"
        if state.img_per_s:
            line += f"  {state.img_per_s:.1f} img/s"
        if state.lr is not None:
            line += f"  lr {state.lr:.4g}"
        header.append(line)
        header.append(f"\nbest val top-1 {_percent(state.best_top1)}  top-5 {_percent(state.best_top5)}")
        if state.error:
            header.append(f"\nerror: {state.error}", style="bold red")
        self.query_one("#job-header", Static).update(header)
        self._draw_loss(state)
        self._draw_val(state)
        log = self.query_one(Log)
        log.clear()
        if job is not None:
            log.write_lines(list(job.log)[-50:])

    def _draw_loss(self, state: RunState) -> None:
        plot = self.query_one("#loss-chart", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        plt.title("training loss per step")
        if state.losses:
            points = list(state.losses)  # a reader thread may be appending
            smoothed = list(zip((step for step, _ in points), smooth([loss for _, loss in points])))
            for label, color, series in (("raw", "gray", thin(points)), ("smoothed", "cyan", thin(smoothed))):
                plt.plot([step for step, _ in series], [loss for _, loss in series], label=label, color=color)
            plt.xlabel("step")
        plot.refresh()

    def _draw_val(self, state: RunState) -> None:
        plot = self.query_one("#val-chart", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        plt.title("validation per epoch")
        if state.val:
            epochs = [event["epoch"] for event in state.val]
            plt.plot(epochs, [event["top1"] for event in state.val], label="top-1 % (left)", color="green")
            plt.plot(epochs, [event["top5"] for event in state.val], label="top-5 % (left)", color="orange")
            plt.plot(epochs, [event["loss"] for event in state.val], label="loss (right)", color="red", yside="right")
            plt.xlabel("epoch")
        plot.refresh()

    # Keys ---------------------------------------------------------------------------------

    def _selected_entry(self) -> tuple[RunState, Job | None] | None:
        return self._entries().get(self._selected) if self._selected else None

    def action_cancel_job(self) -> None:
        entry = self._selected_entry()
        if entry is None or entry[1] is None or not entry[1].running:
            self.notify("The selected entry is not a running job of this app.", severity="warning")
            return
        entry[1].cancel()
        self.notify("Asked the job to stop: it finishes its step and writes last.pt.")

    def action_resume_run(self) -> None:
        entry = self._selected_entry()
        if entry is None:
            return
        state, job = entry
        if (job is not None and job.running) or not state.resumable:
            self.notify("Only a stopped run with a last.pt can be resumed.", severity="warning")
            return
        from cnnexplorer.train.launch import resume_command

        try:
            argv = resume_command(state)
        except (OSError, ValueError, KeyError) as error:
            self.notify(f"Cannot resume {state.run_dir}: {error}", severity="error")
            return
        explorer_app(self).launch(argv)
        self._selected = None
        self.refresh_jobs()

    def action_open_run(self) -> None:
        entry = self._selected_entry()
        if entry is None or entry[0].run_dir is None or not (entry[0].run_dir / "events.jsonl").exists():
            return
        self._draw_detail(load_run(entry[0].run_dir), entry[1])
