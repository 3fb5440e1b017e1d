"""A block's dataflow graph (:mod:`cnnexplorer.analysis.graph`) drawn with box-drawing characters.

grandalf's Sugiyama layout gives the layers (top to bottom, the order the pass ran) and the
order of the vertices within each layer (crossings reduced); an edge that skips layers passes
through one of its dummy vertices in each layer between. Turning that into characters is ours:

- each layer is a band of rows, its boxes side by side (top-aligned), a dummy vertex a
  vertical line through the band;
- between two bands, a channel: each source (a box's bottom centre, or a dummy) leaves on its
  own horizontal track and drops to a port on each of its targets' tops, every port its own
  column (a box that several edges enter, a merge, shows one ``▼`` for each);
- where lines of two different sources cross, the vertical one is drawn over the other (``│``
  between two ``─``): a junction is always a corner or a tee of one source's lines.

Torch-free and Textual-free: plain strings, deterministic for a graph.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

from grandalf.graphs import Edge, graph_core
from grandalf.graphs import Vertex as GVertex
from grandalf.layouts import DummyVertex, SugiyamaLayout

from cnnexplorer import units
from cnnexplorer.analysis.graph import INPUT_ID, OUTPUT_ID, BlockGraph, GraphNode

GAP = 3  # columns between two boxes of a layer
# A vertex of the layout: a node's id, or (edge index, rank) for a dummy vertex of a long edge.
Vertex = str | tuple[int, int]
_UP, _DOWN, _LEFT, _RIGHT = 1, 2, 4, 8
_LINE = {
    _UP: "│", _DOWN: "│", _UP | _DOWN: "│", _LEFT: "─", _RIGHT: "─", _LEFT | _RIGHT: "─",
    _DOWN | _RIGHT: "┌", _DOWN | _LEFT: "┐", _UP | _RIGHT: "└", _UP | _LEFT: "┘",
    _UP | _DOWN | _RIGHT: "├", _UP | _DOWN | _LEFT: "┤", _DOWN | _LEFT | _RIGHT: "┬",
    _UP | _LEFT | _RIGHT: "┴", _UP | _DOWN | _LEFT | _RIGHT: "┼",
}  # fmt: skip
ARROW = "▼"


@dataclass(frozen=True)
class Box:
    """Where a node's box is drawn (0-based; its border included)."""

    row: int
    col: int
    width: int
    height: int


@dataclass(frozen=True)
class Drawing:
    """The picture, every line padded to the same width, and each node's box in it."""

    lines: list[str]
    boxes: dict[str, Box]  # node id -> its box


def draw_graph(graph: BlockGraph) -> Drawing:
    """``graph`` drawn top to bottom in the order the pass ran, one box per node."""
    texts = {node.id: node_lines(node, graph.block) for node in graph.nodes}
    sizes = {key: (max(map(len, lines)) + 4, len(lines) + 2) for key, lines in texts.items()}
    for node_id, count in _incoming_counts(graph).items():  # room for one port per incoming edge
        width, height = sizes[node_id]
        sizes[node_id] = (max(width, 2 * count + 3), height)
    layout = _layout(graph, sizes)
    widths: dict[Vertex, int] = {v: sizes[v][0] if isinstance(v, str) else 1 for v in layout.centres}
    return _Painter(layout, sizes, _columns(layout, widths), texts).paint()


def node_lines(node: GraphNode, block: str = "") -> list[str]:
    """What a node's box says: its name, its type, its output's shape (without the batch) and
    its MACs (none: no line), and ``(training only)`` where it is."""
    if node.id in (INPUT_ID, OUTPUT_ID):
        lines = [node.id, units.shape(node.shape)]
    else:
        lines = [node_name(node, block), node_type(node), units.shape(node.shape)]
        if node.macs:
            lines.append(f"{units.count(node.macs)} MACs")
    if node.training_only:
        lines.append("(training only)")
    return lines


def node_name(node: GraphNode, block: str = "") -> str:
    """The node's id relative to the block (``conv1``, ``relu#2``), an op's without its
    parentheses (``add_``), a folded run's first and last block (``layer1.1–layer1.2``)."""
    if node.repeat > 1 and node.last_path is not None:
        return f"{_relative(node.path or '', block)}–{_relative(node.last_path, block)}"
    name = _relative(node.id, block)
    return name.replace("()", "") if node.path is None else name


def node_type(node: GraphNode) -> str:
    """The module's class (``Sequential · 6 × Bottleneck`` for a container of repeated blocks,
    ``2 × Bottleneck`` for a folded run), or ``op`` for a functional op."""
    if node.path is None:
        return "op"
    if node.repeat > 1:
        return f"{node.repeat} × {node.op}"
    return f"{node.op} · {node.label}" if node.label else node.op


def _relative(path: str, block: str) -> str:
    return path[len(block) + 1 :] if block and path.startswith(block + ".") else path


def _incoming_counts(graph: BlockGraph) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, target in graph.edges:
        counts[target] = counts.get(target, 0) + 1
    return counts


class _View:
    """The size grandalf places a vertex by (and where it put it: ``xy``, its centre)."""

    def __init__(self, width: int, height: int) -> None:
        self.w, self.h, self.xy = width, height, (0.0, 0.0)


@dataclass
class _Layout:
    layers: list[list[Vertex]]  # top to bottom, each left to right
    chains: list[list[Vertex]]  # per edge: its source, the dummies it passes through, its target
    centres: dict[Vertex, float]  # grandalf's x of each vertex


def _layout(graph: BlockGraph, sizes: dict[str, tuple[int, int]]) -> _Layout:
    """grandalf's layers and the order within each (crossings reduced), its x for every vertex,
    and each edge's chain of vertices, one per layer. Unconnected parts are laid out apart and
    put side by side."""
    result = _Layout([], [[a, b] for a, b in graph.edges], {})
    offset = 0.0
    for part in _components(graph):
        # Built in the graph's order, part by part (grandalf's Graph collects each part's
        # edges in a set, whose order changes from run to run, and so would the drawing).
        vertices = {node_id: GVertex(node_id) for node_id in part}
        for node_id, vertex in vertices.items():
            vertex.view = _View(*sizes[node_id])
        indices = [index for index, (a, _) in enumerate(graph.edges) if a in vertices]
        edges = [Edge(vertices[graph.edges[i][0]], vertices[graph.edges[i][1]]) for i in indices]
        edge_index = {id(edge): index for edge, index in zip(edges, indices)}
        component = graph_core(list(vertices.values()), edges)
        layout = _Sugiyama(component)
        layout.xspace, layout.yspace, layout.dw = GAP, 1, 1  # dw: a dummy is one column wide
        layout.init_all(roots=[v for v in component.sV if not v.e_in()], inverted_edges=[])
        layout.draw()
        names: dict[int, Vertex] = {id(v): v.data for v in component.sV}
        for edge, ctrl in layout.ctrls.items():
            index = edge_index[id(edge)]
            for rank, vertex in ctrl.items():
                if isinstance(vertex, DummyVertex):
                    names[id(vertex)] = (index, rank)
            result.chains[index] = [names[id(ctrl[rank])] for rank in sorted(ctrl)]
        left = min(v.view.xy[0] - v.view.w / 2 for layer in layout.layers for v in layer)
        right = offset
        for rank, layer in enumerate(layout.layers):
            if rank == len(result.layers):
                result.layers.append([])
            for vertex in layer:
                x = vertex.view.xy[0] - left + offset
                result.layers[rank].append(names[id(vertex)])
                result.centres[names[id(vertex)]] = x
                right = max(right, x + vertex.view.w / 2)
        offset = right + GAP
    return result


class _Sugiyama(SugiyamaLayout):
    """grandalf's SugiyamaLayout, its alignment conflicts kept in a set (it looks each one up
    in a list: seconds on a whole DenseNet's graph)."""

    def _detect_alignment_conflicts(self) -> None:
        super()._detect_alignment_conflicts()
        self.conflicts = set(self.conflicts)


def _components(graph: BlockGraph) -> list[list[str]]:
    """The node ids of each connected part of the graph, in the graph's order."""
    part = {node.id: index for index, node in enumerate(graph.nodes)}
    for a, b in graph.edges:
        old, new = part[b], part[a]
        if old != new:
            part = {node_id: new if p == old else p for node_id, p in part.items()}
    parts: dict[int, list[str]] = {}
    for node in graph.nodes:
        parts.setdefault(part[node.id], []).append(node.id)
    return list(parts.values())


def _columns(layout: _Layout, widths: dict[Vertex, int]) -> dict[Vertex, int]:
    """The left column of each vertex: as near grandalf's x as keeping each at least GAP
    columns right of the one before it in its layer allows; the drawing starts at column 0."""
    lefts: dict[Vertex, int] = {}
    for layer in layout.layers:
        previous_end = None  # the column after the vertex before
        for vertex in layer:
            left = math.floor(layout.centres[vertex] + 0.5) - widths[vertex] // 2
            lefts[vertex] = left if previous_end is None else max(left, previous_end + GAP)
            previous_end = lefts[vertex] + widths[vertex]
    first = min(lefts.values())
    return {vertex: left - first for vertex, left in lefts.items()}


@dataclass
class _Net:
    """One source's edges across one channel: down from ``column`` to its track, along it, and
    down to each target's port."""

    column: int
    ports: list[tuple[int, Vertex]]  # (column, target), left to right
    row: int = -1  # its track within the channel; -1: a straight line down, no track

    @property
    def straight(self) -> bool:
        return [column for column, _ in self.ports] == [self.column]

    @property
    def span(self) -> tuple[int, int]:
        columns = [self.column, *(column for column, _ in self.ports)]
        return min(columns), max(columns)


class _Canvas:
    """Characters placed (box borders, labels, arrowheads) and line pieces, each piece with the
    directions it joins and the net it belongs to (so that two nets' lines cross, not join)."""

    def __init__(self) -> None:
        self.chars: dict[tuple[int, int], str] = {}
        self.pieces: dict[tuple[int, int], dict[int, int]] = {}

    def put(self, row: int, col: int, text: str) -> None:
        for offset, char in enumerate(text):
            self.chars[(row, col + offset)] = char

    def join(self, row: int, col: int, net: int, directions: int) -> None:
        cell = self.pieces.setdefault((row, col), {})
        cell[net] = cell.get(net, 0) | directions

    def vertical(self, col: int, top: int, bottom: int, net: int) -> None:
        for row in range(top, bottom + 1):
            self.join(row, col, net, _UP | _DOWN)

    def lines(self, height: int, width: int) -> list[str]:
        grid = [[" "] * width for _ in range(height)]
        for (row, col), nets in self.pieces.items():
            grid[row][col] = _LINE[_crossing(nets.values())]
        for (row, col), char in self.chars.items():
            grid[row][col] = char
        return ["".join(row) for row in grid]


def _crossing(pieces: Iterable[int]) -> int:
    """The directions a cell is drawn with: one net's as they are; where nets cross, the
    vertical one alone (``│`` between two ``─``), so that a crossing never reads as a junction."""
    pieces = list(pieces)
    if len(pieces) == 1:
        return pieces[0]
    vertical = [p for p in pieces if not p & (_LEFT | _RIGHT)]
    return _UP | _DOWN if vertical else _union(pieces)


def _union(pieces: list[int]) -> int:
    result = 0
    for piece in pieces:
        result |= piece
    return result


class _Painter:
    """Puts a laid-out graph on a canvas: bands of boxes, channels of edges between them."""

    def __init__(
        self,
        layout: _Layout,
        sizes: dict[str, tuple[int, int]],
        lefts: dict[Vertex, int],
        texts: dict[str, list[str]],
    ) -> None:
        self.layout, self.sizes, self.lefts, self.texts = layout, sizes, lefts, texts
        self.canvas = _Canvas()
        self.net_count = 0

    def width(self, vertex: Vertex) -> int:
        return self.sizes[vertex][0] if isinstance(vertex, str) else 1

    def exit_column(self, vertex: Vertex) -> int:
        return self.lefts[vertex] + self.width(vertex) // 2

    def paint(self) -> Drawing:
        layers = self.layout.layers
        heights = [max((self.sizes[v][1] for v in layer if isinstance(v, str)), default=1) for layer in layers]
        rank_of = {vertex: rank for rank, layer in enumerate(layers) for vertex in layer}
        segments: list[list[tuple[Vertex, Vertex]]] = [[] for _ in layers]  # by the rank of their source
        for chain in self.layout.chains:
            for source, target in zip(chain, chain[1:]):
                segments[rank_of[source]].append((source, target))
        channels = [self._nets(segments[rank]) for rank in range(len(layers) - 1)]
        tracks = [_assign_tracks(nets) for nets in channels]
        boxes: dict[str, Box] = {}
        row = 0
        for rank, layer in enumerate(layers):
            band_bottom = row + heights[rank] - 1
            leaving = {id(net): net for net in channels[rank]} if rank < len(channels) else {}
            sources = {net.column for net in leaving.values()}
            for vertex in layer:
                if isinstance(vertex, str):
                    boxes[vertex] = self._box(vertex, row, band_bottom, self.exit_column(vertex) in sources)
                else:
                    self.canvas.vertical(self.lefts[vertex], row, band_bottom, self._new_net())
            row = band_bottom + 1
            if rank < len(channels):
                self._channel(channels[rank], row, tracks[rank])
                row += tracks[rank] + 1
        width = max(self.lefts[v] + self.width(v) for v in self.lefts) if self.lefts else 0
        return Drawing(self.canvas.lines(row, width), boxes)

    def _new_net(self) -> int:
        self.net_count += 1
        return self.net_count

    def _box(self, node_id: str, top: int, band_bottom: int, leaves: bool) -> Box:
        """A node's box at the top of its band; where edges leave it, a ``┬`` on its bottom
        border and a line down to the band's bottom."""
        width, height = self.sizes[node_id]
        left, bottom = self.lefts[node_id], top + height - 1
        inner = width - 2
        self.canvas.put(top, left, "┌" + "─" * inner + "┐")
        for offset, text in enumerate(self.texts[node_id]):
            pad = inner - len(text)
            self.canvas.put(top + 1 + offset, left, "│" + " " * (pad // 2) + text + " " * (pad - pad // 2) + "│")
        self.canvas.put(bottom, left, "└" + "─" * inner + "┘")
        if leaves:
            column = self.exit_column(node_id)
            self.canvas.put(bottom, column, "┬")
            if bottom < band_bottom:
                self.canvas.vertical(column, bottom + 1, band_bottom, self._new_net())
        return Box(top, left, width, height)

    def _nets(self, segments: list[tuple[Vertex, Vertex]]) -> list[_Net]:
        """The nets of the channel that ``segments`` (the edges' pieces from one layer to the
        next) cross: one per source, with a port on its target for each of its edges."""
        targets: dict[Vertex, list[Vertex]] = {}  # target -> its sources in this channel
        ordered: dict[Vertex, None] = {}
        for source, target in segments:
            if source not in targets.setdefault(target, []):
                targets[target].append(source)
                ordered[source] = None
        foreign = {self.exit_column(source) for source in ordered}
        ports: dict[Vertex, list[tuple[int, Vertex]]] = {source: [] for source in ordered}
        for target, sources in targets.items():
            sources.sort(key=self.exit_column)
            columns = self._ports(target, [self.exit_column(s) for s in sources], foreign)
            for source, column in zip(sources, columns):
                ports[source].append((column, target))
        return [
            _Net(self.exit_column(source), sorted(ports[source], key=lambda p: p[0]))
            for source in sorted(ordered, key=self.exit_column)
        ]

    def _ports(self, target: Vertex, sources: list[int], foreign: set[int]) -> list[int]:
        """A column on ``target``'s top for each source (their columns, left to right): straight
        below a source where it is above the box, else spread evenly, never another source's
        column (a line leaving there would join this one)."""
        left = self.lefts[target]
        if not isinstance(target, str):
            return [left]
        width = self.width(target)
        first, last = left + 1, left + width - 2
        count, columns, previous = len(sources), [], left
        for index, source in enumerate(sources):
            ideal = source if first <= source <= last else left + (index + 1) * width // (count + 1)
            free = [c for c in range(previous + 1, last - (count - 1 - index) + 1) if c == source or c not in foreign]
            column = min(free, key=lambda c: (abs(c - ideal), c)) if free else previous + 1
            columns.append(column)
            previous = column
        return columns

    def _channel(self, nets: list[_Net], top: int, tracks: int) -> None:
        """Each net's lines: down to its track, along it, down to its ports and their arrows."""
        arrows = top + tracks
        for net in nets:
            key = self._new_net()
            turn = arrows if net.straight else top + net.row
            self.canvas.vertical(net.column, top, turn - 1, key)
            if not net.straight:
                low, high = net.span
                self.canvas.join(turn, net.column, key, _UP)
                for col in range(low, high + 1):
                    self.canvas.join(turn, col, key, (_LEFT if col > low else 0) | (_RIGHT if col < high else 0))
            for column, target in net.ports:
                if not net.straight:
                    self.canvas.join(turn, column, key, _DOWN)
                    self.canvas.vertical(column, turn + 1, arrows - 1, key)
                if isinstance(target, str):
                    self.canvas.put(arrows, column, ARROW)
                else:
                    self.canvas.vertical(column, arrows, arrows, key)


def _assign_tracks(nets: list[_Net]) -> int:
    """Give each net that is not a straight line a track (a row of the channel), and return
    how many tracks there are. Nets are taken in the order that crosses fewest lines (and
    a net whose source column is another's port before that other: its line down ends before
    the other's starts); each goes on the first track below every earlier net whose span it
    overlaps, so that nets side by side share a track."""
    pending = [net for net in nets if not net.straight]
    placed: list[_Net] = []
    rows = 0
    while pending:
        ready = [net for net in pending if not any(o.column in _port_columns(net) for o in pending if o is not net)]
        net = min(ready or pending, key=lambda n: (sum(_crossings(n, o) for o in pending if o is not n), n.column))
        pending.remove(net)
        net.row = max((o.row + 1 for o in placed if _overlap(o, net)), default=0)
        placed.append(net)
        rows = max(rows, net.row + 1)
    return rows


def _port_columns(net: _Net) -> set[int]:
    return {column for column, _ in net.ports}


def _overlap(a: _Net, b: _Net) -> bool:
    """Whether two nets' spans come closer than one free column."""
    (low_a, high_a), (low_b, high_b) = a.span, b.span
    return not (high_a + 1 < low_b or high_b + 1 < low_a)


def _crossings(upper: _Net, lower: _Net) -> int:
    """Lines that cross where ``upper`` has the higher track: its track across ``lower``'s line
    down from its source, and its lines down to its ports across ``lower``'s track."""
    (low_u, high_u), (low_l, high_l) = upper.span, lower.span
    return (low_u < lower.column < high_u) + sum(low_l < column < high_l for column in _port_columns(upper))


# --- formats: JSON, Graphviz DOT, Mermaid ---------------------------------------------------

JSON_SCHEMA = 1


def to_json(graph: BlockGraph) -> dict:
    """The graph as the README documents it: each node's id, module path (None for an op, the
    input and the output), op (the module's class or the aten op's name), output shape (batch
    first) and MACs, plus ``repeat`` and ``last_path`` for a folded run, ``label`` for a
    container of repeated blocks and ``training_only`` where they apply; edges as [from, to]."""
    nodes = []
    for node in graph.nodes:
        entry = {"id": node.id, "path": node.path, "op": node.op, "shape": list(node.shape), "macs": node.macs}
        if node.container:
            entry["container"] = True
        if node.repeat > 1:
            entry["repeat"], entry["last_path"] = node.repeat, node.last_path
        if node.label:
            entry["label"] = node.label
        if node.training_only:
            entry["training_only"] = True
        nodes.append(entry)
    return {
        "schema": JSON_SCHEMA,
        "model": graph.model,
        "block": graph.block,
        "depth": graph.depth,
        "nodes": nodes,
        "edges": [[a, b] for a, b in graph.edges],
    }


def to_dot(graph: BlockGraph) -> str:
    """Graphviz DOT: one box per node labelled as in the drawing, edges top to bottom."""
    lines = [
        f"digraph {_dot_string(graph.model + (':' + graph.block if graph.block else ''))} {{",
        "  rankdir=TB;",
        '  node [shape=box, fontname="monospace"];',
    ]
    for node in graph.nodes:
        label = "\\n".join(_dot_escape(line) for line in node_lines(node, graph.block))
        lines.append(f'  {_dot_string(node.id)} [label="{label}"];')
    lines.extend(f"  {_dot_string(a)} -> {_dot_string(b)};" for a, b in graph.edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dot_string(text: str) -> str:
    return f'"{_dot_escape(text)}"'


def to_mermaid(graph: BlockGraph) -> str:
    """A Mermaid flowchart (top down): each node's id made of letters, digits and ``_``
    (``n_layer1_0_conv1``; the ``n_`` keeps clear of Mermaid's words such as ``end``), labels
    quoted, their lines joined with ``<br/>``."""
    ids: dict[str, str] = {}
    for node in graph.nodes:
        name = "n_" + re.sub(r"[^A-Za-z0-9_]", "_", node.id)
        ids[node.id] = name if name not in ids.values() else f"{name}_{len(ids)}"
    lines = ["flowchart TD"]
    for node in graph.nodes:
        label = "<br/>".join(_mermaid_escape(line) for line in node_lines(node, graph.block))
        lines.append(f'  {ids[node.id]}["{label}"]')
    lines.extend(f"  {ids[a]} --> {ids[b]}" for a, b in graph.edges)
    return "\n".join(lines) + "\n"


def _mermaid_escape(text: str) -> str:
    """Characters Mermaid reads inside a quoted label, as entity codes."""
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


# --- text output: the drawing in pages of columns ---------------------------------------------


def page_columns(drawing: Drawing, width: int) -> list[tuple[int, int]]:
    """The drawing's columns in pages of at most ``width`` (``[start, end)`` each; one box
    wider than ``width`` gets a page as wide as itself), such that every box lies whole on
    some page: a page ends between boxes where that fills at least half of it, else the next
    page starts again at the first box that did not fit (pages then overlap)."""
    total = len(drawing.lines[0]) if drawing.lines else 0
    inside = set()  # cuts that would fall inside a box
    for box in drawing.boxes.values():
        inside.update(range(box.col + 1, box.col + box.width))
    uncovered = sorted(drawing.boxes.values(), key=lambda b: (b.col, -b.width, b.row))
    pages: list[tuple[int, int]] = []
    start = 0
    while start < total:
        first = uncovered[0] if uncovered else None
        least = first.col + first.width if first else start + 1
        limit = min(max(start + width, least), total)
        clean = [cut for cut in range(max(least, start + width // 2), limit + 1) if cut not in inside]
        end = limit if limit == total or not clean else clean[-1]
        pages.append((start, end))
        uncovered = [b for b in uncovered if not (start <= b.col and b.col + b.width <= end)]
        start = min([end, *(b.col for b in uncovered)])
    return pages


def render_text(graph: BlockGraph, width: int) -> str:
    """The drawing as the ``graph`` command prints it, under two lines saying what it is: whole
    where it fits in ``width`` columns, else in pages of columns, each headed by which page and columns it is. On a
    page, a box that does not lie whole on it shows its border only (its label is whole on
    another page)."""
    drawing = draw_graph(graph)
    pages = page_columns(drawing, width)
    total = len(drawing.lines[0]) if drawing.lines else 0
    where = f"{graph.model} {graph.block}" if graph.block else graph.model
    depth = "all" if graph.depth is None else graph.depth
    out = [
        *textwrap.wrap(f"{where}, depth {depth}: {len(graph.nodes)} nodes, {len(graph.edges)} edges", width),
        *textwrap.wrap("MACs: multiply-accumulates (FLOPs = 2 x MACs)", width),
    ]
    for number, (start, end) in enumerate(pages, 1):
        if len(pages) > 1:
            out.extend(textwrap.wrap(f"page {number}/{len(pages)}: columns {start + 1}-{end} of {total}", width))
        out.extend(line.rstrip() for line in _page(drawing, start, end))
        if number < len(pages):
            out.append("")
    return "\n".join(out) + "\n"


def _page(drawing: Drawing, start: int, end: int) -> list[str]:
    """Columns ``[start, end)`` of the drawing, the insides of the boxes cut by its edges blanked."""
    rows = [list(line[start:end]) for line in drawing.lines]
    for box in drawing.boxes.values():
        cut = box.col < start < box.col + box.width or box.col < end < box.col + box.width
        if not cut:
            continue
        for row in range(box.row + 1, box.row + box.height - 1):
            for col in range(max(box.col + 1, start), min(box.col + box.width - 1, end)):
                rows[row][col - start] = " "
    return ["".join(row) for row in rows]
