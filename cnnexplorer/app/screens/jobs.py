"""The jobs screen: one row per run (its folder under runs/, or a job of this app that has
none yet), newest first, with the selected run's loss and validation curves drawn by plotext.

Redraws are throttled: events are folded into each run's state as they arrive (in reader
threads); this screen repaints on a timer. A job that resumes a run takes over that run's
row, and its state holds the whole run (every segment's curves joined)."""

from __future__ import annotations

import os
import shlex
import time
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path

from rich.cells import cell_len
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, RichLog, Static

from cnnexplorer import units
from cnnexplorer.app.access import explorer_app
from cnnexplorer.app.charts import ChartPanel, Series, smooth, sparkline, thin
from cnnexplorer.app.widgets.key_footer import Key, KeyFooter
from cnnexplorer.app.widgets.run_curves import colour_style, run_colour, run_letter
from cnnexplorer.runs.events import Val
from cnnexplorer.runs.jobs import Job, headless_trainer, recorded_config, stop_headless_trainer
from cnnexplorer.runs.state import RunState, RunWatcher, load_run, shown_path

REDRAW_SECONDS = 0.3
DETAIL_DELAY = 0.08
RESCAN_SECONDS = 3.0
SHORT_SCREEN = 32  # rows under which the log gives its place to the charts

RAW, SMOOTHED = (150, 150, 150), (0, 190, 230)
TOP1, TOP5, VAL_LOSS = (80, 200, 80), (240, 160, 40), (235, 80, 80)
STATUS_STYLES = {"running": "green", "failed": "red", "cancelled": "yellow", "unfinished": "yellow", "damaged": "red"}


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    minimum: int  # narrowest width before its cells are cut (with an ellipsis)
    drop: int | None = None  # columns go in this order when the table is too narrow; None: kept


# In the order shown; what goes first when narrow: the sparkline, start, duration, top-5, top-1, epoch.
COLUMNS = (
    Column("name", "run", 12),
    Column("model", "model", 8),
    Column("status", "status", 9),
    Column("epoch", "epoch", 5, drop=6),
    Column("top1", "top-1", 6, drop=5),
    Column("top5", "top-5", 6, drop=4),
    Column("start", "started", 11, drop=2),
    Column("time", "time", 6, drop=3),
    Column("loss", "train loss", 10, drop=1),
)
CELL_PADDING = 2  # DataTable's padding, one cell each side
SPARKLINE_WIDTH = 16  # its natural width; wider where the table has room
SPARKLINE_LEAST = 8  # narrower than this it goes
SPARKLINE_MOST = 120


def fit_columns(natural: dict[str, int], available: int) -> dict[str, int]:
    """Each shown column's width (in order): all at their natural width where they fit; else
    the sparkline narrowed, then columns dropped in their order, and only then the run
    name, model and status shortened to their minimum. Room left over widens the sparkline."""
    widths = {column.key: natural[column.key] for column in COLUMNS}

    def total() -> int:
        return sum(width + CELL_PADDING for width in widths.values())

    widths["loss"] = max(SPARKLINE_LEAST, min(widths["loss"], widths["loss"] - (total() - available)))
    for column in sorted((c for c in COLUMNS if c.drop is not None), key=lambda c: c.drop or 0):
        if total() <= available:
            break
        del widths[column.key]
    for column in COLUMNS[:3]:
        excess = total() - available
        if excess > 0:
            widths[column.key] = max(column.minimum, widths[column.key] - excess)
    spare = available - total()
    if spare > 0 and "loss" in widths:
        widths["loss"] += min(spare, SPARKLINE_MOST - widths["loss"])
    return widths


def _fit(cell: str | Text, width: int) -> str | Text:
    """A cell cut to ``width`` cells, ending with an ellipsis where it was cut."""
    text = cell if isinstance(cell, Text) else Text(cell)
    if text.cell_len <= width:
        return cell
    cut = text.copy()
    cut.truncate(width, overflow="ellipsis")
    return cut if isinstance(cell, Text) else cut.plain


def _now() -> float:
    """The wall clock, which the ETA counts down to (tests set it)."""
    return time.time()


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


def _started(seconds: float | None) -> str:
    return "-" if seconds is None else time.strftime("%m-%d %H:%M", time.localtime(seconds))


def _folder_key(run_dir: Path) -> str:
    """A run folder's row key, the same however the folder was named (runs/x, ./runs/x, /abs/runs/x)."""
    return f"run:{os.path.abspath(run_dir)}"


class JobLog(RichLog):
    """A job's last lines, wrapped at the pane's width (again after a resize or a maximise)."""

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id, max_lines=200, wrap=True, markup=False, highlight=False)
        self._lines: list[str] = []
        self._width = 0

    def show(self, lines: list[str]) -> None:
        if lines != self._lines:  # the charts redraw on every step; the log only when it grew
            self._lines = lines
            self._write()

    def _write(self) -> None:
        self.clear()
        self._width = self.size.width
        for line in self._lines:
            self.write(Text(line))

    def on_resize(self) -> None:
        if self._lines and self.size.width != self._width:
            self._write()


def _recorded_command(state: RunState) -> str:
    """The command line that launches a run of ``state``'s recorded config (its config.json,
    read as data) in the same runs folder; ValueError, in one line, where there is none."""
    from cnnexplorer.train.request import LaunchRequest

    if state.run_dir is None:
        raise ValueError("the run has no folder yet")
    config = recorded_config(state.run_dir)
    model = config.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError("its config.json does not name its model")
    flags = {item.name for item in fields(LaunchRequest)} - {"command", "model", "output", "events", "resume"}
    options = {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in config.items()
        if name in flags and value is not None and not (name == "aux_weight" and not value)
    }  # --aux-weight is refused for a model without auxiliary classifiers, which records 0
    request = LaunchRequest(state.command, model, output=shown_path(state.run_dir.parent), **options)
    return shlex.join(["cnnexplorer", *request.argv()])


@dataclass(frozen=True)
class Entry:
    """One row: a run (its state) and the job of this app that runs or ran it, if any."""

    key: str
    state: RunState
    job: Job | None
    number: int | None  # the job's place in the app's list of jobs

    @property
    def name(self) -> str:
        if self.state.name:
            return self.state.name
        return f"{self.state.command} job {(self.number or 0) + 1}"

    @property
    def started(self) -> float:
        launched = self.job.launched_at if self.job is not None else 0.0
        return self.state.first_started_at or launched


class JobsScreen(Screen[None]):
    """Watch jobs and past runs; cancel, resume, reload."""

    BINDINGS = [
        Key("escape", "app.pop_screen", "Explorer", rank=0),
        Key("c", "cancel_job", "Stop run"),
        Key("r", "resume_run", "Resume"),
        Key("space", "toggle_mark", "Mark"),
        Key("d", "compare_runs", "Compare"),
        Key("y", "copy_command", "Copy command", rank=2),
        Key("f", "maximize_pane", "Maximise", rank=2),
        Key("o", "open_run", "Reload", rank=3),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._past: list[RunState] = []
        self._watcher: RunWatcher | None = None
        self._selected: str | None = None  # the selected row's key
        self._selected_job: int | None = None  # its job, which may move to its folder's key
        self._marked: list[str] = []  # the rows marked to compare (run folders' keys), in the order marked
        self._cells: dict[str, tuple[tuple, dict[str, str | Text]]] = {}  # key -> (signature, cells)
        self._sparklines: dict[str, tuple[tuple, str]] = {}  # key -> (signature, sparkline)
        self._drawn_cells: dict[str, dict[str, str | Text]] = {}
        self._table_drawn: tuple = ()  # (row keys, column widths) as last built
        self._detail_drawn: tuple = ()
        self._header_drawn = Text()
        self._pending_draw: Timer | None = None
        self._jobs_seen = 0
        self._ready = False  # mounted: its widgets are there to draw on

    def compose(self) -> ComposeResult:
        yield DataTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
        with Vertical(id="job-detail"):
            yield Static(id="job-header")
            with Horizontal(id="job-charts"):
                yield ChartPanel(id="loss-chart")
                yield ChartPanel(id="val-chart")
            yield JobLog(id="job-log")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._ready = True
        self.rescan()
        self.refresh_jobs()
        self.set_interval(REDRAW_SECONDS, self.refresh_jobs)
        self.set_interval(RESCAN_SECONDS, self.rescan)
        self.query_one(DataTable).focus()

    def on_resize(self) -> None:
        self.set_class(self.size.height < SHORT_SCREEN, "-short")
        self.refresh_jobs()

    # Data -----------------------------------------------------------------------------

    def _entries(self) -> list[Entry]:
        """One entry per run folder (the latest job of the app on it, else what the folder
        says), one per job without a folder yet; newest start first."""
        entries: dict[str, Entry] = {}
        for number, job in enumerate(explorer_app(self).jobs):
            key = _folder_key(job.state.run_dir) if job.state.run_dir is not None else f"job:{number}"
            entries[key] = Entry(key, job.state, job, number)
        for state in self._past:
            if state.run_dir is not None and _folder_key(state.run_dir) not in entries:
                entries[_folder_key(state.run_dir)] = Entry(_folder_key(state.run_dir), state, None, None)
        # Ties (runs started in the same second) by folder name, not by absolute path, so
        # that the order is the same in every checkout.
        return sorted(entries.values(), key=lambda entry: (-entry.started, entry.name, entry.key))

    @work(thread=True, exclusive=True, group="runs")
    def rescan(self) -> None:
        """Read what runs/ gained since the last look, off the UI thread."""
        if self._watcher is None:
            self._watcher = RunWatcher(explorer_app(self).runs_dir)
        self._past = self._watcher.poll()

    def refresh_jobs(self) -> None:
        """Update the table and the selected run's view where anything changed since last time."""
        if not self._ready:
            return
        entries = self._entries()
        cells = {entry.key: self._row_cells(entry) for entry in entries}
        natural = {column.key: len(column.header) for column in COLUMNS} | {"loss": SPARKLINE_WIDTH}
        for row in cells.values():
            for key, cell in row.items():
                natural[key] = max(natural[key], cell_len(cell) if isinstance(cell, str) else cell.cell_len)
        widths = fit_columns(natural, max(20, self.size.width - 2))  # 2: room for a scrollbar
        for entry in entries:
            cells[entry.key] = cells[entry.key] | {"loss": self._sparkline(entry, widths.get("loss", 0))}
        shape = (tuple(entry.key for entry in entries), tuple(widths.items()))
        rebuilt = shape != self._table_drawn
        if rebuilt:
            self._build_table(entries, cells, widths)
            self._table_drawn = shape
        else:
            self._update_cells(cells, widths)
        new_job = self._select_new_job(entries)
        self._follow_selection(entries, rebuilt or new_job)
        selected = next((entry for entry in entries if entry.key == self._selected), None)
        if selected is not None:
            self._draw_detail(selected)
        elif not entries:
            self.query_one("#job-header", Static).update(
                Text(
                    "No jobs or runs yet: t (train) or e (evaluate) in the explorer starts one.\n"
                    f"Runs started from a shell show here too (watching {shown_path(explorer_app(self).runs_dir)}/).",
                    style="italic",
                )
            )

    def _row_cells(self, entry: Entry) -> dict[str, str | Text]:
        """The row's cells at their natural width; recomputed only when the run moved on."""
        state = entry.state
        duration = units.duration(state.duration_seconds(_now()))
        mark = self._mark(entry.key)
        signature = (
            mark.plain, id(state), entry.name, state.label, state.epoch, state.epochs, state.step, len(state.losses),
            state.best_top1, state.best_top5, duration, state.first_started_at,
        )  # fmt: skip
        cached = self._cells.get(entry.key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        if state.command == "eval":
            epoch = "eval"
        else:
            epoch = f"{state.epoch}/{state.epochs}" if state.epochs else str(state.epoch)
        row: dict[str, str | Text] = {
            "name": mark + entry.name,
            "model": state.model or "?",
            "status": Text(state.label, style=STATUS_STYLES.get(state.status, "")),
            "epoch": epoch,
            "top1": _percent(state.best_top1),
            "top5": _percent(state.best_top5),
            "start": _started(entry.started or None),
            "time": duration,
        }
        self._cells[entry.key] = (signature, row)
        return row

    def _mark(self, key: str) -> Text:
        """The run's mark (its letter in the comparison, in its colour), or room for one."""
        if key not in self._marked:
            return Text("  ")
        index = self._marked.index(key)
        return Text(f"{run_letter(index)}", style=f"bold reverse {colour_style(run_colour(index))}") + " "

    def _sparkline(self, entry: Entry, width: int) -> str:
        """The training loss over the whole run, resampled to the column's width."""
        signature = (id(entry.state), len(entry.state.losses), width)
        cached = self._sparklines.get(entry.key)
        if cached is None or cached[0] != signature:
            losses = thin(entry.state.losses, max(2, width))
            cached = (signature, sparkline([loss for _, loss in losses], width) if width else "")
            self._sparklines[entry.key] = cached
        return cached[1]

    @staticmethod
    def _shown(row: dict[str, str | Text], key: str, width: int) -> str | Text:
        return _fit(row[key], width)

    def _build_table(self, entries: list[Entry], cells: dict[str, dict], widths: dict[str, int]) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for column in COLUMNS:
            if column.key in widths:
                table.add_column(_fit(column.header, widths[column.key]), key=column.key, width=widths[column.key])
        for entry in entries:
            row = cells[entry.key]
            table.add_row(*(self._shown(row, key, width) for key, width in widths.items()), key=entry.key)
        self._drawn_cells = {key: dict(row) for key, row in cells.items()}

    def _update_cells(self, cells: dict[str, dict], widths: dict[str, int]) -> None:
        table = self.query_one(DataTable)
        for key, row in cells.items():
            drawn = self._drawn_cells.get(key, {})
            for column, width in widths.items():
                if drawn.get(column) != row[column]:
                    table.update_cell(key, column, self._shown(row, column, width))
            self._drawn_cells[key] = dict(row)

    def _select_new_job(self, entries: list[Entry]) -> bool:
        """A job added since the last look (launched, resumed) becomes the selected row."""
        count = len(explorer_app(self).jobs)
        if count <= self._jobs_seen:
            return False
        self._jobs_seen = count
        newest = next((entry.key for entry in entries if entry.number == count - 1), None)
        if newest is not None:
            self._set_selected(newest, entries)
        return newest is not None

    def _follow_selection(self, entries: list[Entry], rebuilt: bool) -> None:
        """Keep the cursor on the selected run where the table was rebuilt, or where the
        selected job's row moved to its folder's key (once its start event names the
        folder); select the first row at first."""
        if not entries:
            return
        keys = [entry.key for entry in entries]
        if self._selected not in keys:
            moved = next((entry.key for entry in entries if entry.number == self._selected_job), None)
            self._set_selected(moved or keys[0], entries)
            rebuilt = True
        table = self.query_one(DataTable)
        row = keys.index(self._selected)
        if rebuilt and table.cursor_row != row:
            table.move_cursor(row=row, animate=False, scroll=True)

    def _set_selected(self, key: str, entries: list[Entry]) -> None:
        self._selected = key
        self._selected_job = next((entry.number for entry in entries if entry.key == key), None)
        self._detail_drawn = ()

    def _select(self, key: str) -> None:
        """The row the cursor rests on becomes the selected run."""
        if key != self._selected:
            self._set_selected(key, self._entries())
            self.refresh_jobs()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # The cursor moves at once; the charts follow once it rests (plotext redraws cost
        # tens of ms, too much to pay for every row passed over). A highlight the cursor has
        # left since (a rebuilt table's cursor put back on the selected row) is stale.
        if event.cursor_row != event.data_table.cursor_row:
            return
        if self._pending_draw is not None:
            self._pending_draw.stop()
            self._pending_draw = None
        if event.row_key.value is not None and event.row_key.value != self._selected:
            self._pending_draw = self.set_timer(DETAIL_DELAY, partial(self._select, event.row_key.value))

    # Drawing ----------------------------------------------------------------------------

    def _draw_detail(self, entry: Entry) -> None:
        """The header always (its ETA and time count on between events); the charts and the
        log when the run moved on."""
        state, job = entry.state, entry.job
        header = self._header(entry)
        if header != self._header_drawn:  # an update lays the screen out again: only on a change
            self.query_one("#job-header", Static).update(header)
            self._header_drawn = header
        signature = (entry.key, id(state), state.status, len(state.losses), len(state.val), len(job.log) if job else 0)
        if signature == self._detail_drawn:
            return
        self._detail_drawn = signature
        self._draw_loss(state)
        self._draw_val(state)
        self.set_class(job is None, "-no-log")  # a past run's log is not kept: no empty panel
        self.query_one(JobLog).show(list(job.log) if job is not None else [])

    @staticmethod
    def _header(entry: Entry) -> Text:
        state, job = entry.state, entry.job
        header = Text()
        header.append(entry.name, style="bold")
        header.append(f"  {state.command} {state.model or ''}  ")
        header.append(state.label, style="bold " + STATUS_STYLES.get(state.status, ""))
        if state.segments > 1:
            header.append(f"  ({state.segments} segments)", style="dim")
        if job is not None:
            header.append(f"\n$ {job.command_line}", style="dim")
        elif state.run_dir is not None:
            header.append(f"\n{shown_path(state.run_dir)}", style="dim")
        header.append("\n" + "  ".join(JobsScreen._progress(state)))
        best = f"best val top-1 {_percent(state.best_top1)}  top-5 {_percent(state.best_top5)}"
        header.append("\n" + best)
        if state.error:
            header.append(f"  {state.error}", style="bold red")
        if state.damaged:
            header.append(f"\ndamaged: {state.damaged}", style="bold red")
        return header

    @staticmethod
    def _progress(state: RunState) -> list[str]:
        total = state.total_steps
        parts = [f"step {units.count(state.step)}" + (f"/{units.count(total)}" if total else "")]
        if state.progress is not None:
            parts[0] += f" ({100 * state.progress:.0f}%)"
        if state.status == "running":
            parts.append(f"ETA {units.duration(state.eta_seconds(_now()))}")
        parts.append(f"time {units.duration(state.duration_seconds(_now()))}")
        if state.img_per_s:
            parts.append(f"{units.count(state.img_per_s)} img/s")
        if state.lr is not None:
            parts.append(f"lr {state.lr:.3g}")
        return parts

    def _draw_loss(self, state: RunState) -> None:
        panel = self.query_one("#loss-chart", ChartPanel)
        if state.command == "eval":  # an evaluation trains nothing
            note = Text("no training: one pass over the data (its result is beside)", style="dim")
            panel.show_note(("evaluation", "eval"), note)
            return
        titles = ("training loss per step", "loss/step")
        points = list(state.losses)  # a reader thread may be appending
        if not points:
            panel.show_note(titles, Text("no training steps yet", style="dim"))
            return
        smoothed = list(zip((step for step, _ in points), smooth([loss for _, loss in points])))
        series = [Series("raw", "raw", RAW, thin(points))]
        if len(points) > 1:
            series.append(Series("smoothed (EMA 0.9)", "EMA", SMOOTHED, thin(smoothed)))
        panel.show_series(titles, series)

    def _draw_val(self, state: RunState) -> None:
        panel = self.query_one("#val-chart", ChartPanel)
        vals = list(state.val)
        if len(vals) < 2:
            self._val_note(panel, state, vals)
            return

        def points(key: str) -> list[tuple[int, float]]:  # a figure that was not finite is null: no point
            return [(val.epoch, getattr(val, key)) for val in vals if getattr(val, key) is not None]

        series = [
            Series("top-1 %", "top-1%", TOP1, points("top1")),
            Series("top-5 %", "top-5%", TOP5, points("top5")),
            Series("loss (right axis)", "loss→", VAL_LOSS, points("loss"), True),
        ]
        panel.show_series(("validation per epoch", "val/epoch"), series)

    @staticmethod
    def _val_note(panel: ChartPanel, state: RunState, vals: list[Val]) -> None:
        """Nothing to draw a line through: the one result as text, or when the first comes."""
        if state.command == "eval":
            titles = ("evaluation", "eval")
        else:
            titles = ("validation per epoch", "val/epoch")
        if not vals:
            if state.status not in ("starting", "running"):
                eval_stopped = "none: the evaluation stopped before its result"
                waiting = eval_stopped if state.command == "eval" else "none: the run stopped before epoch 1 ended"
            else:
                waiting = "no result yet" if state.command == "eval" else "none yet: one per epoch"
            panel.show_note(titles, Text(waiting, style="dim"))
            return
        val = vals[0]
        where = "" if state.command == "eval" else f"epoch {val.epoch}: "
        images = f" on {units.count(val.images)} images" if val.images else ""
        loss = "-" if val.loss is None else f"{val.loss:.4g}"
        figures = f"top-1 {_percent(val.top1)}  top-5 {_percent(val.top5)}  loss {loss}"
        panel.show_note(titles, Text(f"{where}{figures}{images}"))

    # Keys ---------------------------------------------------------------------------------

    def _selected_entry(self) -> Entry | None:
        return next((entry for entry in self._entries() if entry.key == self._selected), None)

    def action_cancel_job(self) -> None:
        """Stop the selected run: a job of this app at once; one another process trains
        (its lock names it) once that process is verified and the user confirms."""
        entry = self._selected_entry()
        if entry is not None and entry.job is not None and entry.job.running:
            entry.job.cancel()
            self.notify("Asked the job to stop: it finishes its step and writes last.pt.")
            return
        if entry is None or entry.state.status != "running" or entry.state.run_dir is None:
            self.notify("The selected run is not running.", severity="warning")
            return
        run_dir = entry.state.run_dir
        try:
            pid = headless_trainer(run_dir)
        except ValueError as error:
            self.notify(f"Cannot stop {entry.name}: {error}", severity="warning")
            return
        from cnnexplorer.app.screens.confirm_stop import ConfirmStop

        def answer(stop: bool | None) -> None:
            if not stop:
                return
            try:
                stop_headless_trainer(run_dir, pid)
            except ValueError as error:
                self.notify(f"Cannot stop {entry.name}: {error}", severity="warning")
                return
            self.notify(f"Asked process {pid} to stop: it finishes its step and writes last.pt.")

        self.app.push_screen(ConfirmStop(entry.name, pid), answer)

    def action_copy_command(self) -> None:
        """Copy the selected run's launch command: its job's, or the one its config.json records."""
        entry = self._selected_entry()
        if entry is None:
            return
        try:
            command = entry.job.command_line if entry.job is not None else _recorded_command(entry.state)
        except ValueError as error:
            self.notify(f"No command to copy: {error}", severity="warning")
            return
        self.app.copy_to_clipboard(command)
        self.notify(f"Copied: {command}", markup=False)

    def _cursor_entry(self) -> Entry | None:
        """The row under the cursor now (the selected run follows it a moment later)."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((entry for entry in self._entries() if entry.key == key), None)

    def action_toggle_mark(self) -> None:
        """Mark the run under the cursor to compare (or unmark it)."""
        entry = self._cursor_entry()
        if entry is None:
            return
        if entry.state.run_dir is None or not entry.key.startswith("run:"):
            self.notify("This job has no run folder yet: nothing to compare.", severity="warning")
            return
        if entry.key in self._marked:
            self._marked.remove(entry.key)
        else:
            self._marked.append(entry.key)
        self.refresh_jobs()

    def action_compare_runs(self) -> None:
        """Compare the marked runs: their curves overlaid, their results and config diff."""
        folders = {entry.key: entry.state.run_dir for entry in self._entries() if entry.state.run_dir is not None}
        self._marked = [key for key in self._marked if key in folders]
        if len(self._marked) < 2:
            self.notify("Mark two runs or more with space, then d compares them.", severity="warning")
            return
        from cnnexplorer.app.screens.run_compare import RunCompareScreen

        self.app.push_screen(RunCompareScreen([folders[key] for key in self._marked]))

    def action_maximize_pane(self) -> None:
        """The focused pane (the table or the log) alone on the screen, or back; on a screen
        too short to show the log, the log (where the selected run has one)."""
        if self.maximized is not None:
            self.minimize()
            return
        log, has_log = self.query_one(JobLog), not self.has_class("-no-log")
        wants_log = isinstance(self.focused, JobLog) or (self.has_class("-short") and has_log)
        target = log if wants_log else self.query_one(DataTable)
        if target is log and not has_log:
            return
        self.maximize(target, container=False)
        target.focus()

    def action_resume_run(self) -> None:
        """Resume the selected run in a new job, which takes over the run's row."""
        entry = self._selected_entry()
        if entry is None:
            return
        state, job = entry.state, entry.job
        if job is not None and job.running:
            self.notify(f"{entry.name} is running: cancel it (c) before resuming it.", severity="warning")
            return
        if not state.resumable or state.run_dir is None:
            self.notify("Only a stopped run with a last.pt can be resumed.", severity="warning")
            return
        from cnnexplorer.train.request import resume_request

        try:
            resumed = Job(resume_request(state), history=load_run(state.run_dir))
            resumed.start()
        except (OSError, ValueError) as error:
            self.notify(f"Cannot resume {state.run_dir}: {error}", severity="error")
            return
        explorer_app(self).add_job(resumed)
        self._detail_drawn = ()
        self.refresh_jobs()

    def action_open_run(self) -> None:
        """Read the selected run's folder again from its first event."""
        entry = self._selected_entry()
        if entry is None or entry.state.run_dir is None or self._watcher is None:
            return
        if entry.job is not None:
            self.notify("This run's events come from its job, read as they are written.")
            return
        self._watcher.forget(entry.state.run_dir)
        self._cells.pop(entry.key, None)
        self._detail_drawn = ()
        self.rescan()
