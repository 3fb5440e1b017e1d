"""The dataflow graph of one block (:mod:`cnnexplorer.analysis.graph`) as
:func:`cnnexplorer.render.graph.draw_graph` draws it, navigated along its edges.

The drawing is never changed: the selected node's box is highlighted by a style on its
cells, and the view scrolls both ways to keep it in sight."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from cnnexplorer.analysis.graph import INPUT_ID

if TYPE_CHECKING:
    from cnnexplorer.analysis import Analysis
    from cnnexplorer.analysis.graph import BlockGraph, GraphNode
    from cnnexplorer.render.graph import Box, Drawing

MAX_DEPTH = 12  # as the layer tree's
KEYS = "↑↓←→ · ⏎ in · ⌫ out · [ ] depth · esc table"  # the keys as the footer and help show them


class GraphView(ScrollView, can_focus=True):
    """One block's graph; ``selected`` is the id of the highlighted node. Every move posts
    :class:`Selected` with the layer to show; opening another block (in, out, another depth)
    posts :class:`Open` for the screen to build that graph."""

    BINDINGS = [
        *(
            Binding(key, action, "Follow", group=Binding.Group("Follow"), tooltip=does)
            for key, action, does in [
                ("down", "follow(1)", "graph: on to a node this one feeds"),
                ("up", "follow(-1)", "graph: back to a node that feeds this one"),
            ]
        ),
        *(
            Binding(key, action, "Branch", group=Binding.Group("Branch"), tooltip=does)
            for key, action, does in [
                ("left", "across(-1)", "graph: the branch on the left"),
                ("right", "across(1)", "graph: the branch on the right"),
            ]
        ),
        Binding("enter", "drill_in", "In", tooltip="graph: open the highlighted block's own graph"),
        Binding("backspace", "drill_out", "Out", tooltip="graph: out to the enclosing block"),
        *(
            Binding(key, action, "Depth", group=Binding.Group("Depth"), tooltip=does)
            for key, action, does in [
                ("left_square_bracket", "change_depth(-1)", "graph: one level less"),
                ("right_square_bracket", "change_depth(1)", "graph: one level more"),
            ]
        ),
        Binding("escape", "close", "Table", tooltip="graph: back to the layer table"),
    ]

    COMPONENT_CLASSES = {"graph-view--selected"}
    DEFAULT_CSS = """
    GraphView > .graph-view--selected {
        background: $accent;
        color: $text;
        text-style: bold;
    }
    """

    @dataclass
    class Selected(Message):
        """A node was selected: ``path`` is its layer (an op, the input or the output: the block's)."""

        path: str

    @dataclass
    class Open(Message):
        """Show the graph of ``block`` at ``depth`` with the node of layer ``select`` selected."""

        block: str
        depth: int
        select: str | None = None

    class Closed(Message):
        """Back to the layer table."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.analysis: Analysis | None = None
        self.graph: BlockGraph | None = None
        self.drawing: Drawing | None = None
        self.selected = INPUT_ID
        self._depth_asked = 1  # the depth shown, or the one asked for while it is drawn
        self._came_from: dict[tuple[str, int], str] = {}  # (node, direction) -> where ↑/↓ last left it for

    # Content -------------------------------------------------------------------------------

    def show(self, analysis: Analysis, graph: BlockGraph, drawing: Drawing, select: str | None = None) -> None:
        """Show ``graph`` as ``drawing`` with the node that shows layer ``select`` selected (else the input)."""
        self.analysis, self.graph, self.drawing = analysis, graph, drawing
        self._depth_asked = self.depth
        self._came_from = {}
        lines = self.drawing.lines
        self.virtual_size = Size(max((len(line) for line in lines), default=0), len(lines))
        self._update_title()
        self.select(node_showing(analysis, graph, select) if select is not None else INPUT_ID)

    def select(self, node_id: str) -> None:
        """Highlight ``node_id``, scroll it into sight and say which layer it shows."""
        self.selected = node_id
        self.refresh()
        self.call_after_refresh(self._scroll_to_selected)
        self.post_message(self.Selected(self.selected_path))

    @property
    def selected_node(self) -> GraphNode | None:
        return None if self.graph is None else self.graph.node(self.selected)

    @property
    def selected_path(self) -> str:
        """The layer the selection shows: its module, or the block's for an op, the input or the output."""
        node = self.selected_node
        if node is None or self.graph is None:
            return ""
        return node.path if node.path is not None else self.graph.block

    def _scroll_to_selected(self) -> None:
        box = self._box(self.selected)
        if box is not None:
            region = Region(box.col, box.row, box.width, box.height)
            self.scroll_to_region(region, spacing=Spacing(1, 2, 1, 2), animate=False, immediate=True)

    def _box(self, node_id: str) -> Box | None:
        return None if self.drawing is None else self.drawing.boxes.get(node_id)

    def _update_title(self) -> None:
        if self.graph is None or self.analysis is None:
            return
        block = self.analysis.paths[self.graph.block]
        room = self.size.width - 4  # the border's corners and the title's padding
        # The block and depth always; its type and the keys where they fit.
        title = f"{block.path or self.analysis.name} · depth {self.depth}"
        for longer in (
            f"{block.path or self.analysis.name} ({block.type}) · depth {self.depth}",
            f"{title} · {KEYS}",
            f"{block.path or self.analysis.name} ({block.type}) · depth {self.depth} · {KEYS}",
        ):
            if len(longer) <= room:
                title = longer
        self.border_title = title

    def on_resize(self) -> None:
        self._update_title()

    # Rendering -----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        row = scroll_y + y
        base = self.rich_style
        if self.drawing is None or row >= len(self.drawing.lines):
            return Strip.blank(width, base)
        text = Text(self.drawing.lines[row], style=base, no_wrap=True, end="")
        box = self._box(self.selected)
        if box is not None and box.row <= row < box.row + box.height:
            text.stylize(self.get_component_rich_style("graph-view--selected"), box.col, box.col + box.width)
        strip = Strip(list(text.render(self.app.console)), text.cell_len)
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, base)

    # Moving --------------------------------------------------------------------------------

    def action_follow(self, direction: int) -> None:
        """Along an edge: down (1) to a node this one feeds, up (-1) to one that feeds it; the
        one the selection last came from, else the first in the order the pass ran them."""
        if self.graph is None:
            return
        here = self.selected
        ids = self.graph.successors(here) if direction > 0 else self.graph.predecessors(here)
        if not ids:
            return
        target = self._came_from.get((here, direction))
        if target not in ids:
            target = ids[0]
        self._came_from[(target, -direction)] = here
        self.select(target)

    def action_across(self, direction: int) -> None:
        """To the nearest alternative on the left (-1) or right (1): a node in the same layer of
        the drawing, or another node fed by the same node or feeding the same node."""
        if self.graph is None:
            return
        here = self.selected
        graph = self.graph
        siblings = {s for p in graph.predecessors(here) for s in graph.successors(p)}
        siblings |= {p for s in graph.successors(here) for p in graph.predecessors(s)}
        siblings |= {n.id for n in graph.nodes if self._same_layer(n.id, here)}
        centre = self._centre(here)
        side = [i for i in siblings - {here} if (self._centre(i) - centre) * direction > 0]
        if side:
            self.select(min(side, key=lambda i: (abs(self._centre(i) - centre), self._row_distance(i, here))))

    def _centre(self, node_id: str) -> float:
        box = self._box(node_id)
        return 0.0 if box is None else box.col + box.width / 2

    def _row_distance(self, a: str, b: str) -> int:
        box_a, box_b = self._box(a), self._box(b)
        return 0 if box_a is None or box_b is None else abs(box_a.row - box_b.row)

    def _same_layer(self, a: str, b: str) -> bool:
        box_a, box_b = self._box(a), self._box(b)
        if box_a is None or box_b is None:
            return False
        return box_a.row < box_b.row + box_b.height and box_b.row < box_a.row + box_a.height

    def on_click(self, event: events.Click) -> None:
        """Select the node whose box was clicked."""
        offset = event.get_content_offset(self)
        if offset is None or self.drawing is None:
            return
        x, y = offset.x + self.scroll_offset.x, offset.y + self.scroll_offset.y
        for node_id, box in self.drawing.boxes.items():
            if box.col <= x < box.col + box.width and box.row <= y < box.row + box.height:
                self.select(node_id)
                return

    # Other blocks ----------------------------------------------------------------------------

    def action_drill_in(self) -> None:
        """Open the selected container's own graph (the first block of a folded run)."""
        node = self.selected_node
        if node is None or self.graph is None or not node.container or node.path is None:
            self.app.bell()
            return
        self.post_message(self.Open(node.path, self.depth))

    def action_drill_out(self) -> None:
        """Open the graph of the block around this one, with this block selected."""
        if self.graph is None or self.analysis is None or not self.graph.block:
            self.app.bell()
            return
        self.post_message(self.Open(enclosing_block(self.analysis, self.graph.block), self.depth, self.graph.block))

    def action_change_depth(self, delta: int) -> None:
        """Open or fold one more level (keys pressed while a graph is drawn add up)."""
        if self.graph is None:
            return
        depth = max(1, min(MAX_DEPTH, self._depth_asked + delta))
        if depth != self._depth_asked:
            self._depth_asked = depth
            node = self.selected_node
            self.post_message(self.Open(self.graph.block, depth, node.path if node is not None else None))

    @property
    def depth(self) -> int:
        return 1 if self.graph is None or self.graph.depth is None else self.graph.depth

    def action_close(self) -> None:
        self.post_message(self.Closed())


def enclosing_block(analysis: Analysis, block: str) -> str:
    """The nearest module above ``block`` that ran (the whole model at the top)."""
    path = block
    while path:
        path = path.rpartition(".")[0]
        node = analysis.paths.get(path)
        if node is not None and node.executed:
            return path
    return ""


def node_showing(analysis: Analysis, graph: BlockGraph, path: str) -> str:
    """The id of the node that shows layer ``path``: its own node (its first call), the
    container or folded run it lies in, else the first node inside it; else the input."""
    for node in graph.nodes:
        if node.path == path:
            return node.id
    for node in graph.nodes:
        if node.path is not None and node.container and _covers(analysis, node, path):
            return node.id
    inside = next((node.id for node in graph.nodes if node.path and node.path.startswith(path + ".")), None)
    return inside if path and inside is not None else INPUT_ID


def _covers(analysis: Analysis, node: GraphNode, path: str) -> bool:
    """Whether ``path`` lies in the container ``node`` (in one of the blocks of a folded run)."""
    assert node.path is not None
    if node.last_path is None:
        return path.startswith(node.path + ".")
    parent = analysis.paths.get(node.path.rpartition(".")[0])
    if parent is None:
        return False
    names = [child.path for child in parent.children]
    run = names[names.index(node.path) : names.index(node.last_path) + 1]
    return any(path == name or path.startswith(name + ".") for name in run)
