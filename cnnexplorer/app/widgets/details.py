"""The details of the highlighted layer: shapes, kernel, params and MACs with their
formulas, memory and receptive field."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from textual.widgets import Static

from cnnexplorer.render.summary import node_facts

if TYPE_CHECKING:
    from cnnexplorer.analysis import Analysis, LayerNode


class DetailsPanel(Static):
    """Shows :func:`cnnexplorer.render.summary.node_facts` of one layer."""

    node: LayerNode | None = None  # the layer shown

    def show(self, analysis: Analysis, node: LayerNode) -> None:
        self.node = node
        self.border_title = node.path or analysis.name
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for label, value in node_facts(analysis, node):
            table.add_row(label, value)
        self.update(table)

    def clear(self) -> None:
        self.node = None
        self.border_title = ""
        self.update("")
