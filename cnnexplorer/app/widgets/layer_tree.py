"""The selected architecture as a tree-table: the module tree in the first column, then
aligned columns of type, output, params, MACs, MACs share and receptive field; with a measured
profile shown, then time, share of the time, achieved FLOP/s and the share of the roofline
bound reached (with the roof that bounds it).

Columns fit the width: when it runs out they drop in a fixed order (RF, type, share,
MACs, params, output; with a profile, the counted columns go before the measured ones), and
whatever still does not fit ends in an ellipsis."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from cnnexplorer import units
from cnnexplorer.analysis.results import shown_figures
from cnnexplorer.analysis.structure import repeat_label
from cnnexplorer.app.widgets.roofline_chart import COMPUTE_ROOF, MEMORY_ROOF, measured_layer, rgb_style
from cnnexplorer.render.summary import rf_cell

if TYPE_CHECKING:
    from cnnexplorer.analysis import Analysis, LayerNode
    from cnnexplorer.profile import Profile

GAP = 1
NAME_MIN = 14  # the name column never gets narrower than this
NAME_MAX = 44  # nor wider: the figures stay near the names on a wide terminal
NESTING_ROOM = 8  # room kept for tree guides at the usual depths (4 levels of 2 cells)
COSTLIEST = 30  # rows of the costliest-layers view

Ranking = Literal["macs", "params", "activation_bytes"]
RANKING_TITLES = {"macs": "MACs", "params": "params", "activation_bytes": "activation memory"}


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int
    justify: Literal["left", "right"]


# In display order; DROP_ORDER says which go first when the width runs out.
COLUMNS = (
    Column("type", "type", 17, "left"),
    Column("output", "output", 10, "left"),
    Column("params", "params", 6, "right"),
    Column("macs", "MACs", 6, "right"),
    Column("share", "MACs%", 6, "right"),
    Column("rf", "RF", 6, "right"),  # "global" after global pooling
)
DROP_ORDER = ("rf", "type", "share", "macs", "params", "output")
# A measured profile's columns, after those; then the counted columns go first.
MEASURED_COLUMNS = (
    Column("time", "time", 6, "right"),  # per step: forward (+ backward in training mode)
    Column("time_share", "time%", 6, "right"),
    Column("achieved", "FLOP/s", 6, "right"),
    Column("bound", "of roof", 8, "right"),  # achieved / roofline bound, and which roof
)
MEASURED_DROP_ORDER = ("rf", "type", "share", "output", "params", "macs", "achieved", "bound", "time_share")
ROOF_NAMES = {"memory": "mem", "compute": "cmp"}


@lru_cache(maxsize=64)
def fit_columns(width: int, measured: bool = False) -> tuple[int, tuple[Column, ...]]:
    """The name column's width and the other columns that fit in ``width`` cells (with the
    measured columns where ``measured``)."""
    shown = list(COLUMNS) + (list(MEASURED_COLUMNS) if measured else [])
    for key in MEASURED_DROP_ORDER if measured else DROP_ORDER:
        used = sum(column.width + GAP for column in shown)
        if width - used >= NAME_MIN + NESTING_ROOM:
            break
        shown = [column for column in shown if column.key != key]
    name_width = min(NAME_MAX, max(NAME_MIN, width - sum(column.width + GAP for column in shown)))
    return name_width, tuple(shown)


def cell(text: str, width: int, justify: str = "left", style: str | Style = "") -> Text:
    """``text`` in exactly ``width`` cells, cut with an ellipsis if it is longer."""
    value = Text(text, style=style, no_wrap=True, end="")
    if value.cell_len > width:
        value.truncate(width, overflow="ellipsis")
    padding = " " * (width - value.cell_len)
    return Text(padding, end="") + value if justify == "right" else value + padding


def layer_cells(node: LayerNode, analysis: Analysis) -> dict[str, tuple[str, str]]:
    """The column values of one layer (text, style)."""
    totals = analysis.totals
    # A training-only head shows its own figures; anything else its inference-path part,
    # so that shares of the model's totals never exceed 100%.
    params, macs = shown_figures(node)
    share = "-" if node.training_only or not macs else units.percent(macs, totals.macs)
    repeated = repeat_label(node)
    return {
        "type": (repeated or node.type, "cyan" if repeated else ""),
        "output": (units.shape(node.output_shape), "green"),
        "params": (units.count(params) if params else "-", ""),
        "macs": (units.count(macs) if macs else "-", ""),
        "share": (share, "dim"),
        "rf": (rf_cell(node.field), "dim"),
    }


def milliseconds(ms: float) -> str:
    """A time in at most six cells, in the unit that keeps three digits: 1.23ms, 456µs, 2.05s."""
    if ms >= 1000:
        return f"{ms / 1000:.3g}s"
    if ms >= 1 or ms == 0:
        return f"{ms:.3g}ms"
    return f"{ms * 1000:.3g}µs"


def measured_cells(node: LayerNode, profile: Profile) -> dict[str, tuple[str, str]]:
    """The measured column values of one layer (a block: the sum of its leaves)."""
    layer = measured_layer(profile, node.path)
    if layer is None:  # nothing under it ran (a training-only head in inference mode)
        return {key: ("-", "dim") for key in ("time", "time_share", "achieved", "bound")}
    peaks = profile.peaks
    roof = layer.bound(peaks)
    percent = layer.percent_of_bound(peaks)
    reached = "" if percent is None else (">999% " if percent > 999.5 else f"{percent:.0f}% ")
    return {
        "time": (milliseconds(layer.time_ms), "bold"),
        "time_share": (units.percent(layer.time_ms, profile.layers_ms), "dim"),
        "achieved": (units.count(layer.achieved_flops_per_s) if layer.flops else "-", ""),
        "bound": (reached + ROOF_NAMES[roof], rgb_style(MEMORY_ROOF if roof == "memory" else COMPUTE_ROOF)),
    }


class LayerTree(Tree["LayerNode"]):
    """Tree of :class:`~cnnexplorer.analysis.LayerNode`; ``data`` is the layer node.

    Children are added when a block is first opened. Labels are drawn at render time, so
    that they follow the width; ``marked`` paths (search matches) are highlighted."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__("(no model)", **kwargs)
        self.guide_depth = 2
        self.analysis: Analysis | None = None
        self.ranking: Ranking | None = None  # None: the module tree; else the costliest layers
        self.profile: Profile | None = None  # a measured profile of the model shown: its columns
        self.marked: set[str] = set()
        self._items: dict[str, TreeNode[LayerNode]] = {}
        self._cells: dict[str, dict[str, tuple[str, str]]] = {}  # by path, for the analysis shown

    # Content -------------------------------------------------------------------------------

    def show(self, analysis: Analysis, depth: int = 1, keep: str | None = None) -> None:
        """Replace the tree with ``analysis``, expanded down to ``depth``; the cursor goes
        to the layer at path ``keep`` if the new model has one, else to the root."""
        self.analysis = analysis
        self._cells = {}
        self.clear()
        self._items = {"": self.root}
        self.root.data = analysis.root
        self.root.set_label(analysis.name)
        self.root.allow_expand = True
        if self.ranking is not None:
            self._show_costliest(analysis, self.ranking)
            return
        self._populate(self.root)
        self.root.expand()
        self.set_depth(depth)
        if keep and keep in analysis.paths:
            self.reveal(keep)
        else:
            self.move_cursor(self.root)

    def show_profile(self, profile: Profile | None) -> None:
        """Add the measured columns of ``profile`` (of the model shown), or remove them (None)."""
        self.profile = profile
        self._cells = {}
        self._refresh_labels()

    def show_failure(self, name: str, reason: str) -> None:
        """An empty tree that says why ``name`` cannot be shown."""
        self.analysis = None
        self.clear()
        self._items = {}
        self.root.data = None
        self.root.set_label(Text(f"{name}: {reason}", style="italic red"))
        self.root.allow_expand = False

    def _show_costliest(self, analysis: Analysis, ranking: Ranking) -> None:
        leaves = [n for n in analysis.layers if n.is_leaf and not n.training_only and getattr(n, ranking)]
        leaves.sort(key=lambda n: getattr(n, ranking), reverse=True)
        for node in leaves[:COSTLIEST]:
            self._items[node.path] = self.root.add_leaf(node.path, data=node)
        self.root.expand()
        self.move_cursor(self.root)

    def _populate(self, item: TreeNode[LayerNode]) -> None:
        if item.children or item.data is None or not item.data.children:
            return
        for child in item.data.children:
            self._items[child.path] = item.add(child.name, data=child, allow_expand=bool(child.children))

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        self._populate(event.node)

    def set_depth(self, depth: int) -> None:
        """Expand every node above ``depth`` and collapse the rest."""
        if self.ranking is not None or self.analysis is None:
            return

        def visit(item: TreeNode[LayerNode], level: int) -> None:
            if item.data is None or not item.data.children:
                return
            if level < depth:
                self._populate(item)
                item.expand()
                for child in item.children:
                    visit(child, level + 1)
            else:
                item.collapse()

        visit(self.root, 0)

    def reveal(self, path: str) -> None:
        """Expand the ancestors of the node at ``path`` and move the cursor onto it."""
        item = self._items.get(path)
        if item is None:
            parts = path.split(".")
            item = self.root
            for index in range(len(parts)):
                self._populate(item)
                item.expand()
                item = self._items[".".join(parts[: index + 1])]
        else:
            parent = item.parent
            while parent is not None:
                parent.expand()
                parent = parent.parent
        target = item

        def move() -> None:  # tree lines of the newly expanded nodes exist after a refresh
            self.move_cursor(target)
            self.scroll_to_node(target)

        self.call_after_refresh(move)

    def mark(self, paths: set[str]) -> None:
        """Highlight the rows at ``paths`` (search matches)."""
        self.marked = paths
        self._refresh_labels()

    @property
    def highlighted_path(self) -> str | None:
        node = self.cursor_node
        return None if node is None or node.data is None else node.data.path

    # Rendering -----------------------------------------------------------------------------

    @property
    def columns(self) -> tuple[int, tuple[Column, ...]]:
        return fit_columns(self.scrollable_content_region.width, self.profile is not None)

    def header(self) -> Text:
        """The column titles, aligned with the rows."""
        name_width, columns = self.columns
        text = Text(no_wrap=True, end="")
        text.append_text(cell("layer" if self.ranking is None else "layer (costliest first)", name_width))
        for column in columns:
            text.append(" " * GAP)
            text.append_text(cell(column.title, column.width, column.justify, "bold"))
        text.stylize("bold")
        return text

    def render_label(self, node: TreeNode[LayerNode], base_style: Style, style: Style) -> Text:
        layer = node.data
        if layer is None or self.analysis is None:
            return super().render_label(node, base_style, style)
        name_width, columns = self.columns
        nesting = self.guide_depth * _depth(node)
        toggle = 2 if node.allow_expand else 0
        name = str(node.label) + (" †" if layer.training_only else "")
        name_style = "bold"
        if layer.path in self.marked:
            name_style = "bold reverse yellow"
        elif layer.training_only:
            name_style = "bold yellow"
        label = Text(no_wrap=True, end="")
        if toggle:
            label.append("▼ " if node.is_expanded else "▶ ", style=base_style + Style(dim=True))
        label.append_text(cell(name, max(1, name_width - nesting - toggle), style=name_style))
        values = self._cells.get(layer.path)
        if values is None:
            values = self._cells[layer.path] = layer_cells(layer, self.analysis)
            if self.profile is not None:
                values.update(measured_cells(layer, self.profile))
        for column in columns:
            text, column_style = values[column.key]
            label.append(" " * GAP)
            label.append_text(cell(text, column.width, column.justify, column_style))
        label.stylize(style)
        return label

    def get_label_width(self, node: TreeNode[LayerNode]) -> int:
        # Rows are as wide as the widget: no horizontal scrolling of a tree-table.
        return max(1, self.scrollable_content_region.width - self.guide_depth * _depth(node))

    def on_resize(self) -> None:
        self._refresh_labels()

    def _refresh_labels(self) -> None:
        self._invalidate()  # Tree's own: labels are drawn again at the current width
        if isinstance(self.parent, LayerTable):
            self.parent.refresh_header()


def _depth(node: TreeNode) -> int:
    depth = 0
    while node.parent is not None:
        node = node.parent
        depth += 1
    return depth


class LayerTable(Vertical):
    """The layer tree under a header row of column titles."""

    def compose(self) -> ComposeResult:
        yield Static(id="layers-header")
        yield LayerTree(id="layers")

    def refresh_header(self) -> None:
        self.query_one("#layers-header", Static).update(self.query_one(LayerTree).header())
