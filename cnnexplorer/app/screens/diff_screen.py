"""The diff screen: two architectures side by side, aligned row by row by the core's
:mod:`cnnexplorer.diff`. This screen only renders the diff it is given and routes keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from cnnexplorer import units
from cnnexplorer.app.screens.diff_details import DiffDetailsScreen
from cnnexplorer.diff import MARKERS, STYLES, visible_rows
from cnnexplorer.render.diff import headline, total_rows

if TYPE_CHECKING:
    from rich.console import JustifyMethod

    from cnnexplorer.analysis import LayerNode
    from cnnexplorer.diff import Diff, DiffRow

# Column widths that fit two panes side by side in a 130-column terminal.
_COLUMNS = (("", 1), ("layer", 15), ("type", 11), ("output", 11), ("params", 6), ("MACs", 6))


def legend(only_diff: bool) -> Text:
    """The colour and marker key, and the state of the differences-only filter."""
    text = Text()
    for status, label in (("changed", "changed"), ("added", "added (right only)"), ("removed", "removed (left only)")):
        text.append(f"{MARKERS[status]} {label}", style=STYLES[status])
        text.append("   ")
    text.append("differences only" if only_diff else "all rows", style="bold")
    text.append(" (f)   enter: both layers' details", style="dim")
    return text


def summary(diff: Diff) -> Table:
    """The headline and both sides' totals with their deltas, for the top of the screen."""
    title, *facts = headline(diff)
    totals = Table.grid(padding=(0, 2))
    justify: tuple[JustifyMethod, ...] = ("left", "right", "right", "right")
    for column in justify:
        totals.add_column(justify=column, no_wrap=True)
    totals.add_row(
        "", Text(diff.left.name, style="bold"), Text(diff.right.name, style="bold"), Text("delta", style="bold")
    )
    for cells in total_rows(diff):
        totals.add_row(*cells)
    grid = Table.grid()
    grid.add_column()
    grid.add_row(Text(title, style="bold"))
    grid.add_row(Text("   ".join(facts), style="dim"))
    grid.add_row(totals)
    return grid


def pane_cells(row: DiffRow, node: LayerNode | None) -> list[Text]:
    """One side's cells for an aligned row: blank but for the marker where that side is missing."""
    style = STYLES[row.status]
    cells = [Text(MARKERS[row.status], style=style)]
    if node is None:
        return cells + [Text("")] * (len(_COLUMNS) - 1)
    return cells + [
        Text("  " * (row.depth - 1) + node.name, style=style, no_wrap=True, overflow="ellipsis"),
        Text(node.type, style=style, no_wrap=True, overflow="ellipsis"),
        Text(units.shape(node.output_shape), style=style),
        Text(units.count(node.params) if node.params else "-", style=style, justify="right"),
        Text(units.count(node.macs) if node.macs else "-", style=style, justify="right"),
    ]


class DiffScreen(Screen[None]):
    """Left and right panes, scroll-locked; every difference marked ``~ + -`` and coloured."""

    DEFAULT_CSS = """
    DiffScreen #diff-header { height: auto; padding: 0 1; background: $boost; }
    DiffScreen #diff-legend { height: 1; padding: 0 1; }
    DiffScreen #diff-panes { height: 1fr; }
    DiffScreen #diff-panes DataTable { width: 1fr; height: 1fr; border: round $primary-background; }
    DiffScreen #diff-panes DataTable:focus { border: round $primary; }
    """

    BINDINGS = [
        Binding("j", "move(1)", "Down", show=False),
        Binding("k", "move(-1)", "Up", show=False),
        Binding("n", "next_difference(1)", "Next diff"),
        Binding("N", "next_difference(-1)", "Prev diff"),
        Binding("tab", "switch_pane", "Other pane"),
        Binding("s", "swap", "Swap"),
        Binding("f", "toggle_filter", "Diffs only"),
        Binding("enter", "details", "Details"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, diff: Diff, only_diff: bool = False) -> None:
        super().__init__()
        self.diff = diff
        self.only_diff = only_diff
        self.rows: list[DiffRow] = []
        self._syncing = False

    def compose(self) -> ComposeResult:
        yield Static(id="diff-header")
        yield Static(id="diff-legend")
        with Horizontal(id="diff-panes"):
            yield DataTable(id="diff-left", cursor_type="row", zebra_stripes=False)
            yield DataTable(id="diff-right", cursor_type="row", zebra_stripes=False)
        yield Footer()

    def on_mount(self) -> None:
        for pane in self.panes:
            for label, width in _COLUMNS:
                pane.add_column(label, width=width)
            self.watch(pane, "scroll_y", self._lock_scroll, init=False)
        self._refresh()
        self.panes[0].focus()

    @property
    def panes(self) -> tuple[DataTable, DataTable]:
        return self.query_one("#diff-left", DataTable), self.query_one("#diff-right", DataTable)

    @property
    def cursor_row(self) -> int:
        return self.panes[0].cursor_row

    @property
    def current(self) -> DiffRow | None:
        """The aligned row under the cursor, or None when there are no rows."""
        return self.rows[self.cursor_row] if self.rows else None

    def _refresh(self, keep: DiffRow | None = None) -> None:
        """Fill both panes from the diff; put the cursor on ``keep``, or the next shown row."""
        self.rows = visible_rows(self.diff, only_diff=self.only_diff)
        self.query_one("#diff-header", Static).update(summary(self.diff))
        self.query_one("#diff-legend", Static).update(legend(self.only_diff))
        for pane, side, analysis in zip(self.panes, ("left", "right"), (self.diff.left, self.diff.right)):
            pane.clear()
            pane.border_title = f"{side}: {analysis.name}"
            pane.add_rows(pane_cells(row, getattr(row, side)) for row in self.rows)
        self._move_to(self._nearest(keep))

    def _nearest(self, row: DiffRow | None) -> int:
        """The index of ``row`` among the shown rows, or of the first shown row after it."""
        if row is None:
            return 0
        order = {id(each): i for i, each in enumerate(self.diff.rows)}
        after = (i for i, each in enumerate(self.rows) if order.get(id(each), -1) >= order.get(id(row), 0))
        return next(after, max(len(self.rows) - 1, 0))

    def _move_to(self, row: int) -> None:
        if not self.rows:
            return
        for pane in self.panes:
            pane.move_cursor(row=row, animate=False)

    def _lock_scroll(self) -> None:
        if self._syncing:
            return
        self._syncing = True
        source = self.focused if self.focused in self.panes else self.panes[0]
        for pane in self.panes:
            if pane is not source:
                pane.scroll_to(y=source.scroll_y, animate=False, immediate=True)
        self._syncing = False

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # Follow the focused pane's cursor as it is now: the messages arrive late, and
        # echoing a stale row back and forth between the panes would never settle.
        source = event.data_table
        if source is self.focused:
            for pane in self.panes:
                if pane is not source and pane.cursor_row != source.cursor_row:
                    pane.move_cursor(row=source.cursor_row, animate=False)

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

    def action_switch_pane(self) -> None:
        left, right = self.panes
        (right if self.focused is left else left).focus()

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
