"""The diff screen's `enter`: the details of both layers of an aligned row, fact by fact."""

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
    from cnnexplorer.diff import Diff, DiffRow


def paired_facts(left: list[tuple[str, str]], right: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """Both sides' facts by label, in the left side's order and then the right side's extra
    ones; a label a side lacks gets an empty value there."""
    left_values: dict[tuple[str, int], str] = {}
    right_values: dict[tuple[str, int], str] = {}
    order: list[tuple[str, int]] = []
    for facts, values in ((left, left_values), (right, right_values)):
        for label, value in facts:
            key = (label, sum(1 for seen in values if seen[0] == label))  # a label may repeat ("note")
            values[key] = value
            if key not in order:
                order.append(key)
    return [(key[0], left_values.get(key, ""), right_values.get(key, "")) for key in order]


def facts_table(diff: Diff, row: DiffRow) -> Table:
    """One row per fact, the left layer's value beside the right one's; values that differ
    are in the changed colour."""
    sides = ((diff.left, row.left), (diff.right, row.right))
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(ratio=1)
    table.add_column(ratio=1)
    table.add_row(
        "",
        *(
            Text(f"{side}: {analysis.name}", style="bold underline")
            for side, (analysis, _) in zip(("left", "right"), sides)
        ),
    )
    facts = [node_facts(analysis, node) if node is not None else [] for analysis, node in sides]
    missing = [
        Text(f"no such layer in {analysis.name}", style="italic") if node is None else Text("")
        for analysis, node in sides
    ]
    if row.left is None or row.right is None:
        table.add_row("", *missing)
    for label, left, right in paired_facts(*facts):
        style = STYLES["changed"] if left and right and left != right else ""
        table.add_row(label, Text(left, style=style), Text(right, style=style))
    return table


class DiffDetailsScreen(ModalScreen[None]):
    """Both layers' facts side by side and what changed between them; escape or enter closes."""

    DEFAULT_CSS = """
    DiffDetailsScreen { align: center middle; }
    DiffDetailsScreen #diff-details {
        width: 90%; min-width: 76; height: 80%; border: thick $primary; background: $surface; padding: 0 1;
    }
    """

    BINDINGS = [Binding("escape,enter", "dismiss", "Close")]

    def __init__(self, diff: Diff, row: DiffRow) -> None:
        super().__init__()
        self.diff = diff
        self.row = row

    def compose(self) -> ComposeResult:
        row = self.row
        title = Text(f"{MARKERS[row.status]} {row.status}", style=STYLES[row.status] + " bold")
        if row.changes:
            title.append(f": {change_text(row)}", style=STYLES[row.status])
        with VerticalScroll(id="diff-details"):
            yield Static(title)
            yield Static(facts_table(self.diff, row))
