"""The details of the highlighted layer: shapes, kernel, params and MACs with their
formulas, torchinfo's Mult-Adds beside them, memory and receptive field."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.visual import VisualType
from textual.widgets import Static

from cnnexplorer.render.summary import node_facts
from cnnexplorer.render.torchinfo import torchinfo_fact

if TYPE_CHECKING:
    from cnnexplorer.analysis import Analysis, AnalysisRequest, LayerNode
    from cnnexplorer.analysis.torchinfo_view import MultAddsComparison

TORCHINFO_PENDING = "running torchinfo…"
KEPT_COMPARISONS = 64  # analyses whose torchinfo comparison the panel keeps, as the app keeps analyses


class DetailsPanel(VerticalScroll, can_focus=True):
    """Shows :func:`cnnexplorer.render.summary.node_facts` of one layer, with torchinfo's
    Mult-Adds: run once per analysis in a worker (so the UI never waits), then kept. Where
    it is shorter than the facts (below the table, at 80x24) it scrolls: focused (Tab) by
    the arrows and page keys, and by the mouse wheel; ``f`` maximises it."""

    ALLOW_MAXIMIZE = True  # Textual's scroll containers are not, by default
    node: LayerNode | None = None  # the layer shown

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.analysis: Analysis | None = None  # the analysis of the layer shown
        # Each analysis's comparison with torchinfo by layer path, or why there is none; None: running.
        self._torchinfo: dict[AnalysisRequest, dict[str, MultAddsComparison] | str | None] = {}

    def compose(self) -> ComposeResult:
        yield Static()

    @property
    def content(self) -> VisualType:
        """What the panel shows (a table of facts, or nothing)."""
        return self.query_one(Static).content

    def show(self, analysis: Analysis, node: LayerNode) -> None:
        self.analysis, self.node = analysis, node
        self.border_title = node.path or analysis.name
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for label, value in node_facts(analysis, node, self._torchinfo_line(analysis, node)):
            table.add_row(label, value)
        self.query_one(Static).update(table)

    def clear(self) -> None:
        self.analysis, self.node = None, None
        self.border_title = ""
        self.query_one(Static).update("")

    def _torchinfo_line(self, analysis: Analysis, node: LayerNode) -> str:
        if analysis.request not in self._torchinfo:
            self._torchinfo[analysis.request] = None
            self.run_worker(lambda: self._compare_with_torchinfo(analysis), thread=True, group="torchinfo")
        found = self._torchinfo[analysis.request]
        if found is None:
            return TORCHINFO_PENDING
        return found if isinstance(found, str) else torchinfo_fact(found.get(node.path))

    def _compare_with_torchinfo(self, analysis: Analysis) -> None:
        """In a worker: torchinfo's figures (from the disk cache, else run on the meta device)."""
        from cnnexplorer.analysis.torchinfo_view import compare, torchinfo_figures
        from cnnexplorer.errors import UsageError

        try:
            found: dict[str, MultAddsComparison] | str = compare(analysis, torchinfo_figures(analysis.request))
        except UsageError as error:
            found = f"not available: {error}"
        except Exception as error:  # the user's model code, run again: never take the app down
            found = f"not available: {type(error).__name__}: {error}".splitlines()[0]
        self.app.call_from_thread(self._compared, analysis.request, found)

    def _compared(self, request: AnalysisRequest, found: dict[str, MultAddsComparison] | str) -> None:
        self._torchinfo[request] = found
        while len(self._torchinfo) > KEPT_COMPARISONS:  # the oldest first
            del self._torchinfo[next(iter(self._torchinfo))]
        if self.analysis is not None and self.node is not None and self.analysis.request == request:
            self.show(self.analysis, self.node)
