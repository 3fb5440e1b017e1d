"""The selected architecture as a tree-table: the module tree in the first column, then
columns of type, output, params, MACs, MACs share, receptive field and activation memory;
with a measured profile shown, then its columns (time, share of the time, achieved FLOP/s
and the share of the roofline bound reached, with the roof that bounds it), scrolled into
view where they do not all fit.

Each column is as wide as its title and its widest value over the whole model, and the
tree column as wide as the rows shown need, so that nothing is cut. Where the columns do
not all fit, as many whole ones are shown as fit and ←/→ scroll through the rest (the tree
column stays); only when not even one fits are the names cut, with an ellipsis. ``s``
sorts each block's rows by the next column (``S`` reverses), as does a click on a title."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from cnnexplorer import units
from cnnexplorer.analysis.results import shown_figures
from cnnexplorer.analysis.structure import repeat_label
from cnnexplorer.app.widgets.key_footer import Key
from cnnexplorer.app.widgets.roofline_chart import COMPUTE_ROOF, MEMORY_ROOF, measured_layer, rgb_style
from cnnexplorer.render.summary import rf_cell

if TYPE_CHECKING:
    from cnnexplorer.analysis import Analysis, LayerNode
    from cnnexplorer.profile import Profile

GAP = 1
NAME_MIN = 12  # names are cut no narrower than this, and only where no column would fit beside them
COSTLIEST = 30  # rows of the costliest-layers view
ARROWS = {(False, False): "", (True, False): " ←", (False, True): " →", (True, True): " ↔"}  # columns hidden

Ranking = Literal["macs", "params", "activation_bytes"]
RANKING_TITLES = {"macs": "MACs", "params": "params", "activation_bytes": "activation memory"}
RANKED_COLUMN = {"macs": "macs", "params": "params", "activation_bytes": "memory"}


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    justify: Literal["left", "right"]
    descending: bool = True  # the first sort direction: figures largest first, text from A


NAME_COLUMN = Column("name", "layer", "left", descending=False)
COLUMNS = (
    Column("type", "type", "left", descending=False),
    Column("output", "output", "left"),  # sorted by element count
    Column("params", "params", "right"),
    Column("macs", "MACs", "right"),
    Column("share", "MACs%", "right"),
    Column("rf", "RF", "right"),  # "global" after global pooling
    Column("memory", "act mem", "right"),  # the layer's outputs (a block: its layers')
)
# A measured profile's columns, after those.
MEASURED_COLUMNS = (
    Column("time", "time", "right"),  # per step: forward (+ backward in training mode)
    Column("time_share", "time%", "right"),
    Column("achieved", "FLOP/s", "right"),
    Column("bound", "of roof", "right"),  # achieved / roofline bound, and which roof
)
ROOF_NAMES = {"memory": "mem", "compute": "cmp"}
SCROLL_TIP = "scroll the columns that do not fit (the tree column stays)"


def fit_columns(
    width: int, name_need: int, widths: dict[str, int], columns: tuple[Column, ...], offset: int = 0
) -> tuple[int, tuple[Column, ...]]:
    """The tree column's width and the columns shown in ``width`` cells from ``columns[offset]``
    on: as many whole ones as fit beside a tree column of ``name_need`` cells; where none does,
    the tree column is cut (to NAME_MIN at least) to show one."""
    name_width = min(name_need, width)
    used, shown = name_width, []
    for column in columns[offset:]:
        if used + GAP + widths[column.key] > width:
            break
        shown.append(column)
        used += GAP + widths[column.key]
    if not shown and columns[offset:]:
        first = columns[offset]
        room = width - GAP - widths[first.key]
        if room >= NAME_MIN:
            name_width, shown = min(name_width, room), [first]
    return name_width, tuple(shown)


def last_offset(width: int, name_need: int, widths: dict[str, int], columns: tuple[Column, ...]) -> int:
    """The smallest offset from which every remaining column fits (how far → scrolls)."""
    for offset in range(len(columns)):
        if len(fit_columns(width, name_need, widths, columns, offset)[1]) == len(columns) - offset:
            return offset
    return max(0, len(columns) - 1)


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
        "memory": (units.size(node.activation_bytes) if node.activation_bytes else "-", ""),
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


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sorts ``layer2`` before ``layer10`` and ``9`` before ``10``."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower()) for part in re.split(r"(\d+)", text) if part)


def sort_value(node: LayerNode, key: str, profile: Profile | None) -> float | tuple:
    """What a column sorts ``node`` by: the figure behind its text (an output by its size)."""
    if key == "name":
        return natural_key(node.name or node.path)
    if key == "type":
        return natural_key(repeat_label(node) or node.type)
    if key == "output":
        return math.prod(node.output_shape[1:]) if node.output_shape else -1
    if key in ("params", "macs", "share"):
        return shown_figures(node)[0 if key == "params" else 1]
    if key == "rf":
        field = node.field
        return -1 if field is None else math.inf if field.whole else math.prod(field.size)
    if key == "memory":
        return node.activation_bytes
    layer = measured_layer(profile, node.path) if profile is not None else None
    if layer is None:
        return -1
    if key == "achieved":
        return layer.achieved_flops_per_s if layer.flops else -1
    if key == "bound":
        percent = layer.percent_of_bound(profile.peaks)
        return -1 if percent is None else percent
    return layer.time_ms  # time and its share


class LayerTree(Tree["LayerNode"]):
    """Tree of :class:`~cnnexplorer.analysis.LayerNode`; ``data`` is the layer node.

    Children are added when a block is first opened. Labels are drawn at render time, so
    that they follow the width; ``marked`` paths (search matches) are highlighted."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Key("left", "scroll_columns(-1)", "Columns", key_display="←→", rank=1, tooltip=SCROLL_TIP),
        Key("right", "scroll_columns(1)", "Columns", key_display="←→", rank=None, tooltip=SCROLL_TIP),
        Key(
            "s",
            "sort_next",
            "Sort",
            rank=2,
            tooltip="sort each block's rows by the next column (a click on a title: by it)",
        ),
        Key("S", "sort_reverse", "Reverse", rank=None, tooltip="reverse the sort"),
        Key("y", "copy_path", "Copy path", rank=3, tooltip="copy the highlighted layer's path"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__("(no model)", **kwargs)
        self.guide_depth = 2
        self.analysis: Analysis | None = None
        self.ranking: Ranking | None = None  # None: the module tree; else the costliest layers
        self.profile: Profile | None = None  # a measured profile of the model shown: its columns
        self.marked: set[str] = set()
        self.sort: tuple[str, bool] | None = None  # column key, descending; None: the model's order
        self.column_offset = 0  # the first column shown (←/→)
        self._items: dict[str, TreeNode[LayerNode]] = {}
        self._cells: dict[str, dict[str, tuple[str, str]]] = {}  # by path, for the analysis shown
        self._widths: dict[str, int] = {}  # each column's width, for the analysis shown
        self._layout_key: tuple | None = None
        self._layout: tuple[int, tuple[Column, ...]] = (0, ())
        self._tree_view: tuple[set[str], str | None] | None = None  # expansions and cursor, while ranked

    # Content -------------------------------------------------------------------------------

    def show(
        self, analysis: Analysis, depth: int = 1, keep: str | None = None, expanded: set[str] | None = None
    ) -> None:
        """Replace the tree with ``analysis``, expanded down to ``depth`` (or the blocks at the
        paths ``expanded``); the cursor goes to the layer at path ``keep`` if the new model
        has one, else to the root."""
        if analysis is not self.analysis:
            self._tree_view = None
        self.analysis = analysis
        self._cells, self._widths = {}, {}
        self.clear()
        self._items = {"": self.root}
        self.root.data = analysis.root
        self.root.set_label(analysis.name)
        self.root.allow_expand = True
        if self.ranking is not None:
            self._show_costliest(analysis, self.ranking)
            if keep in self._items:
                self.reveal(keep)
            self._refresh_labels()
            return
        self._populate(self.root)
        self.root.expand()
        if expanded is None:
            self.set_depth(depth)
        else:
            for path in sorted(expanded, key=lambda path: path.count(".")):
                if path in analysis.paths:
                    self.reveal(path, move=False)
        if keep and keep in analysis.paths:
            self.reveal(keep)
        else:
            self.move_cursor(self.root)
        self._refresh_labels()

    def set_ranking(self, ranking: Ranking | None, depth: int) -> None:
        """Show the costliest layers by ``ranking``, or (None) the tree as the user left it."""
        if self.ranking is None:
            self._tree_view = (self.expanded_paths(), self.highlighted_path)
        self.ranking = ranking
        if self.analysis is None:
            return
        if ranking is None and self._tree_view is not None:
            expanded, cursor = self._tree_view
            self.show(self.analysis, depth, keep=cursor, expanded=expanded)
        else:
            self.show(self.analysis, depth)

    def expanded_paths(self) -> set[str]:
        """The paths of the blocks open now."""
        return {path for path, item in self._items.items() if item.is_expanded and path}

    def show_profile(self, profile: Profile | None) -> None:
        """Add the measured columns of ``profile`` (of the model shown), or remove them (None)."""
        self.profile = profile
        self._cells, self._widths = {}, {}
        # The measured columns are what the view is for: scrolled to (as far right as it goes).
        self.column_offset = len(self.all_columns) if profile is not None else 0
        self._refresh_labels()

    def show_failure(self, name: str, reason: str) -> None:
        """An empty tree that says why ``name`` cannot be shown."""
        self.analysis = None
        self.clear()
        self._items = {}
        self.root.data = None
        self.root.set_label(Text(f"{name}: {reason}", style="italic red"))
        self.root.allow_expand = False
        self._refresh_labels()

    def _show_costliest(self, analysis: Analysis, ranking: Ranking) -> None:
        leaves = [n for n in analysis.layers if n.is_leaf and not n.training_only and getattr(n, ranking)]
        leaves.sort(key=lambda n: getattr(n, ranking), reverse=True)
        for node in self._sorted(leaves[:COSTLIEST]):
            self._items[node.path] = self.root.add_leaf(node.path, data=node)
        self.root.expand()
        self.move_cursor(self.root)

    def _sorted(self, nodes: list[LayerNode]) -> list[LayerNode]:
        if self.sort is None:
            return nodes
        key, descending = self.sort
        return sorted(nodes, key=lambda node: sort_value(node, key, self.profile), reverse=descending)

    def _populate(self, item: TreeNode[LayerNode]) -> None:
        if item.children or item.data is None or not item.data.children:
            return
        for child in self._sorted(list(item.data.children)):
            self._items[child.path] = item.add(child.name, data=child, allow_expand=bool(child.children))

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        self._populate(event.node)
        self._refresh_header()

    def on_tree_node_collapsed(self) -> None:
        self._refresh_header()

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
        self._refresh_header()

    def opened_below(self, depth: int) -> int:
        """How many blocks at ``depth`` or deeper are open and shown (by a search, or by hand)."""
        return sum(1 for item, level in self._shown_items() if level >= depth and item.is_expanded)

    def _shown_items(self) -> Iterator[tuple[TreeNode[LayerNode], int]]:
        """The rows shown (every ancestor open), each with its depth."""
        stack = [(self.root, 0)]
        while stack:
            item, depth = stack.pop()
            yield item, depth
            if item.is_expanded:
                stack.extend((child, depth + 1) for child in item.children)

    def reveal(self, path: str, move: bool = True) -> None:
        """Expand the ancestors of the node at ``path`` and move the cursor onto it (unless
        not ``move``: then expand the node too)."""
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
        if not move:
            self._populate(item)
            item.expand()
            return
        target = item

        def move_there() -> None:  # tree lines of the newly expanded nodes exist after a refresh
            self.move_cursor(target)
            self.scroll_to_node(target)

        self.call_after_refresh(move_there)

    def mark(self, paths: set[str]) -> None:
        """Highlight the rows at ``paths`` (search matches)."""
        self.marked = paths
        self._refresh_labels()

    @property
    def highlighted_path(self) -> str | None:
        node = self.cursor_node
        return None if node is None or node.data is None else node.data.path

    # Sorting, scrolling, copying ------------------------------------------------------------

    @property
    def all_columns(self) -> tuple[Column, ...]:
        """The columns in display order (the ranked figure first in the costliest view)."""
        columns = COLUMNS + (MEASURED_COLUMNS if self.profile is not None else ())
        if self.ranking is not None:
            ranked = RANKED_COLUMN[self.ranking]
            columns = tuple(c for c in columns if c.key == ranked) + tuple(c for c in columns if c.key != ranked)
        return columns

    def sort_by(self, key: str | None, descending: bool | None = None) -> None:
        """Sort each block's rows by column ``key`` (None: the model's order); the open blocks
        and the cursor stay."""
        if key is None:
            self.sort = None
        else:
            column = next(c for c in (NAME_COLUMN, *self.all_columns) if c.key == key)
            self.sort = (key, column.descending if descending is None else descending)
        if self.analysis is not None:
            self.show(self.analysis, keep=self.highlighted_path, expanded=self.expanded_paths())

    def action_sort_next(self) -> None:
        keys = [None, NAME_COLUMN.key, *(column.key for column in self.all_columns)]
        current = self.sort[0] if self.sort is not None else None
        self.sort_by(keys[(keys.index(current) + 1) % len(keys)] if current in keys else None)

    def action_sort_reverse(self) -> None:
        if self.sort is not None:
            self.sort_by(self.sort[0], not self.sort[1])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "scroll_columns":  # ←/→ (and their footer entry) only where columns are out of view
            return self.columns_hidden
        return True

    @property
    def columns_hidden(self) -> bool:
        """Whether some columns are scrolled out of view (left or right)."""
        _, columns = self.columns
        return len(columns) < len(self.all_columns)

    def action_scroll_columns(self, step: int) -> None:
        width, need, widths, columns = self._fit_inputs()
        offset = max(0, min(last_offset(width, need, widths, columns), self._offset() + step))
        if offset == self._offset():
            self.app.bell()
        self.column_offset = offset
        self._refresh_labels()

    def action_copy_path(self) -> None:
        path = self.highlighted_path
        if path is None or self.analysis is None:
            return
        copied = path or self.analysis.name  # the root: the model's name
        self.app.copy_to_clipboard(copied)
        self.notify(f"Copied {copied}", timeout=2)

    # Rendering -----------------------------------------------------------------------------

    def _column_widths(self) -> dict[str, int]:
        """Each column's width: its title (and sort arrow) or its widest value over the model."""
        if not self._widths:
            widths = {column.key: cell_len(column.title + self._sort_arrow(column.key)) for column in self.all_columns}
            for node in self.analysis.root.walk() if self.analysis is not None else ():
                for key, (text, _) in self._values(node).items():
                    widths[key] = max(widths[key], cell_len(text))
            self._widths = widths
        return self._widths

    def _values(self, node: LayerNode) -> dict[str, tuple[str, str]]:
        values = self._cells.get(node.path)
        if values is None:
            assert self.analysis is not None
            values = self._cells[node.path] = layer_cells(node, self.analysis)
            if self.profile is not None:
                values.update(measured_cells(node, self.profile))
        return values

    def _name_need(self) -> int:
        """The tree column's width for the rows shown: guides, toggle and name of the widest."""
        need = cell_len(NAME_COLUMN.title) + 3  # room for the sort arrow and the scroll arrows
        for item, depth in self._shown_items():
            if item.data is not None:
                toggle = 2 if item.allow_expand else 0
                name = cell_len(str(item.label)) + (2 if item.data.training_only else 0)
                need = max(need, self.guide_depth * depth + toggle + name)
        return need

    def _fit_inputs(self) -> tuple[int, int, dict[str, int], tuple[Column, ...]]:
        return self.scrollable_content_region.width, self._name_need(), self._column_widths(), self.all_columns

    def _offset(self) -> int:
        """The offset in effect: no further right than needed to show the last column."""
        return min(self.column_offset, last_offset(*self._fit_inputs()))

    @property
    def columns(self) -> tuple[int, tuple[Column, ...]]:
        """The tree column's width and the columns shown."""
        key = (
            self._updates,
            self.scrollable_content_region.width,
            self.column_offset,
            self.sort,
            id(self.analysis),
            id(self.profile),
            self.ranking,
        )
        if key != self._layout_key:
            width, need, widths, columns = self._fit_inputs()
            self._layout = fit_columns(width, need, widths, columns, self._offset())
            self._layout_key = key
        return self._layout

    def header_spans(self) -> list[tuple[int, int, str]]:
        """Where each title is in the header: (start, end, column key), the tree column's first."""
        name_width, columns = self.columns
        spans, start = [(0, name_width, NAME_COLUMN.key)], name_width
        for column in columns:
            width = self._column_widths()[column.key]
            spans.append((start + GAP, start + GAP + width, column.key))
            start += GAP + width
        return spans

    def header(self) -> Text:
        """The column titles, aligned with the rows; arrows say where columns are scrolled out."""
        name_width, columns = self.columns
        widths = self._column_widths()
        offset = self._offset()
        hidden_left, hidden_right = offset > 0, len(columns) < len(self.all_columns) - offset
        text = Text(no_wrap=True, end="")
        name = NAME_COLUMN.title + self._sort_arrow(NAME_COLUMN.key)
        arrows = ARROWS[(hidden_left, hidden_right)] if self.analysis is not None else ""
        text.append_text(cell(name + " " * max(0, name_width - cell_len(name) - cell_len(arrows)) + arrows, name_width))
        for column in columns:
            text.append(" " * GAP)
            text.append_text(cell(column.title + self._sort_arrow(column.key), widths[column.key], column.justify))
        text.stylize("bold")
        return text

    def _sort_arrow(self, key: str) -> str:
        if self.sort is None or self.sort[0] != key:
            return ""
        return "↓" if self.sort[1] else "↑"

    def render_label(self, node: TreeNode[LayerNode], base_style: Style, style: Style) -> Text:
        layer = node.data
        if layer is None or self.analysis is None:
            return super().render_label(node, base_style, style)
        name_width, columns = self.columns
        widths = self._column_widths()
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
        values = self._values(layer)
        for column in columns:
            text, column_style = values[column.key]
            label.append(" " * GAP)
            label.append_text(cell(text, widths[column.key], column.justify, column_style))
        label.stylize(style)
        return label

    def get_label_width(self, node: TreeNode[LayerNode]) -> int:
        # Rows are as wide as the widget: the tree-table scrolls by whole columns, not sideways.
        return max(1, self.scrollable_content_region.width - self.guide_depth * _depth(node))

    def on_resize(self) -> None:
        self._refresh_labels()

    def _refresh_labels(self) -> None:
        self._invalidate()  # Tree's own: labels are drawn again at the current width
        self._refresh_header()

    def _refresh_header(self) -> None:
        if isinstance(self.parent, LayerTable):
            self.parent.refresh_header()
        self.refresh_bindings()  # ←/→ come and go with the columns out of view


def _depth(node: TreeNode) -> int:
    depth = 0
    while node.parent is not None:
        node = node.parent
        depth += 1
    return depth


class LayerTable(Vertical):
    """The layer tree under a header row of column titles (a click on one sorts by it)."""

    unfolded = 1  # the depth the explorer unfolds to, for the title

    def compose(self) -> ComposeResult:
        yield Static(id="layers-header")
        yield LayerTree(id="layers")

    def refresh_header(self) -> None:
        tree = self.query_one(LayerTree)
        self.query_one("#layers-header", Static).update(tree.header())
        self.border_title = self.title_for(tree)

    def show_depth(self, depth: int) -> None:
        self.unfolded = depth
        self.refresh_header()

    def title_for(self, tree: LayerTree) -> str:
        """What the table shows: the tree to a depth (and blocks opened deeper), or the
        costliest layers; the sort."""
        if tree.ranking is None:
            opened = tree.opened_below(self.unfolded) if tree.analysis is not None else 0
            title = f"layers · depth {self.unfolded}" + (f" (+{opened} opened)" if opened else "")
        else:
            title = f"costliest {COSTLIEST} layers by {RANKING_TITLES[tree.ranking]}"
        if tree.sort is not None:
            title += f" · sorted by {tree.sort[0]}{tree._sort_arrow(tree.sort[0])}"
        return title + (" · c: costliest" if tree.ranking is None else " · c: next")

    @on(events.Click, "#layers-header")
    def sort_by_title(self, event: events.Click) -> None:
        """A click on a title sorts by its column; on the sorted one, reverses the sort."""
        tree = self.query_one(LayerTree)
        offset = event.get_content_offset(self.query_one("#layers-header"))
        if offset is None:
            return
        for start, end, key in tree.header_spans():
            if start <= offset.x < end:
                if tree.sort is not None and tree.sort[0] == key:
                    tree.sort_by(key, not tree.sort[1])
                else:
                    tree.sort_by(key)
                tree.focus()
                return
