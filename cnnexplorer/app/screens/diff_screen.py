"""The diff screen: two architectures in one table, aligned row by row by the core's
:mod:`cnnexplorer.diff`. This screen only renders the diff it is given and routes keys.

Every aligned pair is one row, so the sides scroll together both ways by construction.
The columns, left to right: marker, layer (``left→right`` where the names differ), type,
output (``left→right`` where the shapes differ), L params, R params, Δparams, L MACs,
R MACs, ΔMACs, changes. Each column is as wide as its widest cell, so that no name,
shape or number is cut, and where they all fit the last one takes what is left. Where they
do not, the per-side figures move to the right of the changes (L/R params, then L/R MACs),
then type, then output, as far as needed for the rest to fit; ←/→ scroll to them, with
marker and layer kept in place.

The first screenful of rows is in the first frame; the rest arrive in batches, one per
frame, so that a long diff (resnet152 vs wide_resnet101_2) opens at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from cnnexplorer import units
from cnnexplorer.app.screens.diff_details import DiffDetailsScreen
from cnnexplorer.app.widgets.key_footer import Key, KeyFooter
from cnnexplorer.diff import MARKERS, STYLES, visible_rows
from cnnexplorer.render.diff import change_text, headline, row_label, row_type, total_rows

if TYPE_CHECKING:
    from rich.console import JustifyMethod
    from textual import events

    from cnnexplorer.analysis import LayerNode
    from cnnexplorer.diff import Diff, DiffRow, TotalDelta

# Rows added per frame once the first screenful is shown. Each batch costs a repaint of the
# visible rows (the table's render caches are per update) besides the rows themselves, so
# few large batches block the event loop less, all told, than many small ones.
BATCH_ROWS = 500
# Cells of padding on each side of a column (DataTable's default cell_padding).
CELL_PADDING = 1
FIXED_COLUMNS = 2  # marker and layer stay in place when ←/→ scroll the others
SCROLL_TIP = "scroll the columns that do not fit, a whole column at a time (marker and layer stay)"


@dataclass(frozen=True)
class DiffColumn:
    """One column of the diff table: its header, how a row fills it, and how it gives way."""

    key: str
    header: str
    cell: Callable[[DiffRow], str]
    numeric: bool = False
    drop_order: int | None = None  # None: stays in view; 1 moves out of view (right) first where narrow
    # Where it is the last column in view: the cells of it that must be in view for the
    # columns to count as fitting (None: all of its widest cell); the rest a → away.
    in_view: int | None = None


def output_text(row: DiffRow) -> str:
    """The output shape, ``left→right`` where the two sides' differ."""
    shapes = [units.shape(node.output_shape) for node in (row.left, row.right) if node is not None]
    return shapes[0] if len(set(shapes)) == 1 else "→".join(shapes)


def _figure(side: str, name: str) -> Callable[[DiffRow], str]:
    def cell(row: DiffRow) -> str:
        node: LayerNode | None = getattr(row, side)
        if node is None:
            return ""
        value = getattr(node, name)
        return units.count(value) if value else "-"

    return cell


def _delta(name: str) -> Callable[[DiffRow], str]:
    def cell(row: DiffRow) -> str:
        return "" if row.status == "same" else units.signed(getattr(row, f"{name}_delta"))

    return cell


COLUMNS = (
    DiffColumn("marker", "", lambda row: MARKERS[row.status]),
    DiffColumn("layer", "layer", lambda row: "  " * (row.depth - 1) + row_label(row)),
    DiffColumn("type", "type", row_type, drop_order=3),
    DiffColumn("output", "output", output_text, drop_order=4),
    DiffColumn("left_params", "L params", _figure("left", "params"), numeric=True, drop_order=1),
    DiffColumn("right_params", "R params", _figure("right", "params"), numeric=True, drop_order=1),
    DiffColumn("params_delta", "Δparams", _delta("params"), numeric=True),
    DiffColumn("left_macs", "L MACs", _figure("left", "macs"), numeric=True, drop_order=2),
    DiffColumn("right_macs", "R MACs", _figure("right", "macs"), numeric=True, drop_order=2),
    DiffColumn("macs_delta", "ΔMACs", _delta("macs"), numeric=True),
    DiffColumn("changes", "changes", change_text, in_view=20),
)

COLUMN_BY_KEY = {column.key: column for column in COLUMNS}
COLUMN_INDEX = {column.key: index for index, column in enumerate(COLUMNS)}


def natural_widths(columns: tuple[DiffColumn, ...], cells: list[tuple[str, ...]]) -> dict[str, int]:
    """Each column's width without cutting anything: its widest cell or its header."""
    widths = {column.key: cell_len(column.header) for column in columns}
    for row in cells:
        for column, text in zip(columns, row):
            widths[column.key] = max(widths[column.key], cell_len(text))
    return widths


def fit_columns(natural: dict[str, int], width: int, columns: tuple[DiffColumn, ...] = COLUMNS) -> dict[str, int]:
    """Every column's width in a table ``width`` cells wide, in display order (see the module
    docstring for the rules); the last one in view, ``changes``, counts only its ``in_view`` cells
    and is then cut or widened to end at the right edge. The columns moved out of view follow in
    pages as wide as the room right of the fixed columns, each page's last column widened to its
    edge, so that a scroll by whole pages (:meth:`DiffScreen.action_scroll_columns`) never shows
    part of a column."""
    front, moved = list(columns), []
    ranks = sorted({column.drop_order for column in columns if column.drop_order is not None})

    def needed(shown: list[DiffColumn]) -> int:
        cells = sum(
            min(natural[c.key], c.in_view or natural[c.key]) if c is shown[-1] else natural[c.key] for c in shown
        )
        return cells + 2 * CELL_PADDING * len(shown)

    while needed(front) > width and ranks:
        going = ranks.pop(0)
        moved += [column for column in front if column.drop_order == going]
        front = [column for column in front if column.drop_order != going]
    widths = {column.key: natural[column.key] for column in front}
    last = front[-1].key
    widths[last] = max(
        1, width - sum(widths[key] + 2 * CELL_PADDING for key in widths if key != last) - 2 * CELL_PADDING
    )
    page = width - sum(widths[column.key] + 2 * CELL_PADDING for column in front[:FIXED_COLUMNS])
    used = 0
    for column in moved:
        need = natural[column.key] + 2 * CELL_PADDING
        if used and used + need > page:
            widths[last] += page - used  # this page ends at the right edge
            used = 0
        widths[column.key], last = natural[column.key], column.key
        used += need
    if moved and used < page:
        widths[last] += page - used
    return widths


def percent_delta(total: TotalDelta) -> str:
    """The change relative to the left side: +26.9%, -3.8%, 0 (``-`` when the left is zero)."""
    if not total.left:
        return "-"
    return units.signed(total.delta, lambda value: units.percent(value, total.left))


def legend(only_diff: bool, more: bool = False) -> Text:
    """The colour and marker key, what L, R and Δ mean, the state of the filter, and
    whether columns lie beyond the right edge (``more``)."""
    text = Text()
    for status in ("changed", "added", "removed"):
        text.append(f"{MARKERS[status]} {status}", style=STYLES[status])
        text.append("  ")
    text.append("L/R left/right  Δ R−L  ", style="dim")  # 80 columns hold it all
    text.append("diffs only" if only_diff else "all rows", style="bold")
    if more:
        text.append("  ←/→ more", style="dim")
    return text


def totals_table(diff: Diff) -> Table:
    """Both sides' totals, the delta and the delta in percent of the left side."""
    table = Table.grid(padding=(0, 2))
    justify: tuple[JustifyMethod, ...] = ("left", "right", "right", "right", "right")
    for column in justify:
        table.add_column(justify=column, no_wrap=True)
    header = ("", diff.left.name, diff.right.name, "delta", "delta %")
    table.add_row(*(Text(cell, style="bold") for cell in header))
    for cells, total in zip(total_rows(diff), diff.totals.values()):
        table.add_row(*cells, percent_delta(total))
    return table


def summary(diff: Diff, width: int, console: Console) -> RenderableType:
    """The headline beside the totals, or above them when the two do not fit in ``width``."""
    title, *facts = headline(diff)
    lines = [Text(title, style="bold", no_wrap=True, overflow="ellipsis")]
    lines += [Text(fact, style="dim", no_wrap=True, overflow="ellipsis") for fact in facts]
    totals = totals_table(diff)
    gap = 4
    needed = (
        max(cell_len(line.plain) for line in lines) + gap + Measurement.get(console, console.options, totals).maximum
    )
    if needed > width:
        return Group(*lines, totals)
    grid = Table.grid(padding=(0, gap))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_row(Group(*lines), totals)
    return grid


def cell_text(column: DiffColumn, text: str, style: str) -> Text:
    """A table cell: one line that ends in an ellipsis where it does not fit; numbers to the right."""
    return Text(text, style=style, no_wrap=True, overflow="ellipsis", justify="right" if column.numeric else None)


def row_cells(row: DiffRow) -> tuple[str, ...]:
    """The text of every column of :data:`COLUMNS` for one aligned row."""
    return tuple(column.cell(row) for column in COLUMNS)


class DiffScreen(Screen[None]):
    """One table of aligned rows; every difference marked ``~ + -`` and coloured."""

    DEFAULT_CSS = """
    DiffScreen #diff-header { height: auto; padding: 0 1; background: $boost; }
    DiffScreen #diff-legend { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    DiffScreen #diff-table { height: 1fr; }
    """

    BINDINGS = [
        Binding("j", "move(1)", "Down", show=False),
        Binding("k", "move(-1)", "Up", show=False),
        Key("n", "next_difference(1)", "Next diff"),
        Key("N", "next_difference(-1)", "Prev diff"),
        Key("s", "swap", "Swap"),
        Key("f", "toggle_filter", "Diffs only"),
        Key("enter", "details", "Details", rank=2, priority=True),  # before the table's own enter
        Key("escape", "back", "Back", rank=0),
        Binding("left", "scroll_columns(-1)", "Columns", show=False, priority=True, tooltip=SCROLL_TIP),
        Binding("right", "scroll_columns(1)", "Columns", show=False, priority=True, tooltip=SCROLL_TIP),
    ]

    def __init__(self, diff: Diff, only_diff: bool = False) -> None:
        super().__init__()
        self.diff = diff
        self.only_diff = only_diff
        self.rows: list[DiffRow] = []
        self.cells: list[tuple[str, ...]] = []
        self.widths: dict[str, int] = {}
        self._natural: dict[str, int] = {}
        self._generation = 0  # bumped on every refill: batches of an older fill stop

    def compose(self) -> ComposeResult:
        yield Static(id="diff-header")
        yield Static(id="diff-legend")
        yield DataTable(id="diff-table", cursor_type="row", zebra_stripes=False, fixed_columns=FIXED_COLUMNS)
        yield KeyFooter()

    def on_mount(self) -> None:
        self._refresh()
        self.table.focus()

    def on_resize(self, event: events.Resize) -> None:
        if not self._natural:  # not filled yet: on_mount lays out
            return
        self._show_summary()
        if self._fit() != self.widths:
            self._fill(self.cursor_row)

    def _show_summary(self) -> None:
        header = self.query_one("#diff-header", Static)
        width = (self.size.width or self.app.size.width) - header.styles.gutter.width
        header.update(summary(self.diff, width, self.app.console))

    @property
    def table(self) -> DataTable:
        return self.query_one("#diff-table", DataTable)

    @property
    def cursor_row(self) -> int:
        return self.table.cursor_row

    @property
    def current(self) -> DiffRow | None:
        """The aligned row under the cursor, or None when there are no rows."""
        return self.rows[self.cursor_row] if self.rows else None

    @property
    def loaded(self) -> bool:
        """Whether every row is in the table (the rest arrive a batch per frame)."""
        return self.table.row_count == len(self.rows)

    def _room(self) -> int:
        """The table's width for columns. Room for the vertical scrollbar is kept even when it
        is hidden: the widths then need not change as rows arrive or the filter changes."""
        table = self.table
        width = (self.size.width or self.app.size.width) - table.styles.gutter.width
        return width - table.styles.scrollbar_size_vertical

    def _fit(self) -> dict[str, int]:
        """Column widths for the screen's current width."""
        return fit_columns(self._natural, self._room())

    def _refresh(self, keep: DiffRow | None = None) -> None:
        """Fill the table from the diff; put the cursor on ``keep``, or the next shown row."""
        self.rows = visible_rows(self.diff, only_diff=self.only_diff)
        self.cells = [row_cells(row) for row in self.rows]
        self._natural = natural_widths(COLUMNS, self.cells)
        self._show_summary()
        self._fill(self._nearest(keep))

    def _fill(self, cursor: int) -> None:
        """Lay out the columns for the screen's width and add the rows up to the first
        screenful past ``cursor`` now, the rest one batch per frame."""
        self._generation += 1
        self.widths = self._fit()
        more = sum(self.widths.values()) + 2 * CELL_PADDING * len(self.widths) > self._room()
        self.query_one("#diff-legend", Static).update(legend(self.only_diff, more))
        table = self.table
        table.clear(columns=True)
        for key, width in self.widths.items():
            column = COLUMN_BY_KEY[key]
            header = Text(column.header, no_wrap=True, overflow="ellipsis")
            header.justify = "right" if column.numeric else "left"
            table.add_column(header, width=width, key=key)
        self._move_to(cursor)
        if not self.loaded:
            self.call_after_refresh(self._add_batch, self._generation)

    def _add_batch(self, generation: int) -> None:
        if generation != self._generation:
            return
        self._load_to(self.table.row_count + BATCH_ROWS)
        if not self.loaded:
            self.call_after_refresh(self._add_batch, generation)

    def _load_to(self, end: int) -> None:
        """Add the rows before ``end`` that are not in the table yet."""
        table = self.table
        shown = [COLUMN_INDEX[key] for key in self.widths]
        start = table.row_count
        for row, cells in zip(self.rows[start:end], self.cells[start:end]):
            style = STYLES[row.status]
            table.add_row(*(cell_text(COLUMNS[index], cells[index], style) for index in shown))

    def _nearest(self, row: DiffRow | None) -> int:
        """The index of ``row`` among the shown rows, or of the first shown row after it."""
        if row is None:
            return 0
        order = {id(each): i for i, each in enumerate(self.diff.rows)}
        after = (i for i, each in enumerate(self.rows) if order.get(id(each), -1) >= order.get(id(row), 0))
        return next(after, max(len(self.rows) - 1, 0))

    def _move_to(self, row: int) -> None:
        """Put the cursor on ``row``, adding the rows up to a screenful past it first."""
        self._load_to(row + max(self.size.height or self.app.size.height, 1))
        if self.rows:
            self.table.move_cursor(row=row, animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_details()

    def action_move(self, step: int) -> None:
        if self.rows:
            self._move_to(max(0, min(len(self.rows) - 1, self.cursor_row + step)))

    def action_next_difference(self, step: int) -> None:
        """Jump to the next (``step`` 1) or previous (-1) row that is not the same."""
        index = self.cursor_row + step
        while 0 <= index < len(self.rows):
            if self.rows[index].status != "same":
                self._move_to(index)
                return
            index += step
        self.app.bell()

    def action_scroll_columns(self, step: int) -> None:
        """Scroll the columns right of the layer by a page of whole columns (``step`` -1: back);
        :func:`fit_columns` makes each page end at the right edge."""
        table = self.table
        fixed = sum(self.widths[key] + 2 * CELL_PADDING for key in list(self.widths)[:FIXED_COLUMNS])
        page = max(1, self._room() - fixed)
        x = round(table.scroll_x)
        target = (x // page + 1) * page if step > 0 else (x - 1) // page * page
        if not 0 <= target <= table.max_scroll_x:
            self.app.bell()
            return
        table.scroll_to(x=target, animate=False, immediate=True)

    def action_swap(self) -> None:
        current = self.current
        self.diff = self.diff.swapped()
        self._refresh()
        if current is not None:  # the swapped diff has new rows: find the same pair of layers
            pair = (current.right, current.left)
            self._move_to(next((i for i, row in enumerate(self.rows) if (row.left, row.right) == pair), 0))

    def action_toggle_filter(self) -> None:
        self.only_diff = not self.only_diff
        self._refresh(keep=self.current)

    def action_details(self) -> None:
        if self.current is not None:
            self.app.push_screen(DiffDetailsScreen(self.diff, self.current))

    def action_back(self) -> None:
        self.dismiss()
