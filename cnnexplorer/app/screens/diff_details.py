"""The diff screen's `enter`: the details of both layers of an aligned row, side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from cnnexplorer.diff import MARKERS, STYLES
from cnnexplorer.render.diff import change_text
from cnnexplorer.render.summary import node_facts

if TYPE_CHECKING:
    from cnnexplorer.analysis import Analysis, LayerNode
    from cnnexplorer.diff import Diff, DiffRow


def facts_table(analysis: Analysis, node: LayerNode | None, side: str) -> Table:
    """One side's layer facts (the explorer's details), or a note that the side has no such layer."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_row(Text(f"{side}: {analysis.name}", style="bold underline"), "")
    if node is None:
        table.add_row("", Text(f"no such layer in {analysis.name}", style="italic"))
        return table
    for label, value in node_facts(analysis, node):
        table.add_row(label, value)
    return table


class DiffDetailsScreen(ModalScreen[None]):
    """Both layers' facts and what changed between them; escape, enter or q closes."""

    DEFAULT_CSS = """
    DiffDetailsScreen { align: center middle; }
    DiffDetailsScreen #diff-details {
        width: 90%; height: 80%; border: thick $primary; background: $surface; padding: 0 1;
    }
    """

    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]

    def __init__(self, diff: Diff, row: DiffRow) -> None:
        super().__init__()
        self.diff = diff
        self.row = row

    def compose(self) -> ComposeResult:
        row = self.row
        title = Text(f"{MARKERS[row.status]} {row.status}", style=STYLES[row.status] + " bold")
        if row.changes:
            title.append(f": {change_text(row)}", style=STYLES[row.status])
        sides = Table.grid(padding=(0, 4), expand=True)
        sides.add_column(ratio=1)
        sides.add_column(ratio=1)
        sides.add_row(facts_table(self.diff.left, row.left, "left"), facts_table(self.diff.right, row.right, "right"))
        with VerticalScroll(id="diff-details"):
            yield Static(title)
            yield Static(sides)
