"""The dataflow graph of one block of an analysed model, at a depth.

A **node** is a step of the pass (:mod:`cnnexplorer.analysis.dataflow`: an atomic module's
call, or an op run between modules, such as a residual ``add_`` or a ``cat``), or a container
call drawn as one node because it lies deeper than the depth asked for, or a run of identical
blocks folded into one (``2 × Bottleneck``). The block's input and output are the nodes
``"input"`` and ``"output"``. An **edge** runs from the node that made a tensor to each node
that read it; whatever the block reads from outside comes from ``"input"``.

Depth counts container levels below the block: at depth 1 the block's own children are nodes
and every container among them is drawn whole; ``None`` opens every container.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnexplorer.analysis.dataflow import NO_NODE, Dataflow
from cnnexplorer.analysis.results import Analysis, LayerNode
from cnnexplorer.analysis.structure import repeat_label
from cnnexplorer.errors import UsageError

INPUT_ID, OUTPUT_ID = "input", "output"


@dataclass(frozen=True)
class GraphNode:
    """One node of a block's graph."""

    id: str
    path: str | None  # the module's path; None for an op, the input and the output
    op: str  # the module's class, the aten op's name, or "input" / "output"
    shape: tuple[int, ...]  # of its output (the input's, for "input"), batch first
    macs: int  # of this call (all the calls, for a folded run)
    container: bool = False  # a container drawn as one node
    repeat: int = 1  # identical blocks folded into this node
    last_path: str | None = None  # the last block of a folded run
    training_only: bool = False  # inside a training-only head
    label: str | None = None  # ``6 × Bottleneck``, for a container of repeated blocks


@dataclass(frozen=True)
class BlockGraph:
    """The nodes of a block in the order the pass ran them (input first, output last) and
    the edges between them, each once."""

    model: str
    block: str
    depth: int | None
    nodes: list[GraphNode]
    edges: list[tuple[str, str]]

    def node(self, node_id: str) -> GraphNode:
        return next(node for node in self.nodes if node.id == node_id)

    def successors(self, node_id: str) -> list[str]:
        return [b for a, b in self.edges if a == node_id]

    def predecessors(self, node_id: str) -> list[str]:
        return [a for a, b in self.edges if b == node_id]


def block_graph(analysis: Analysis, block: str = "", depth: int | None = 1, fold: bool = True) -> BlockGraph:
    """The graph of the module at ``block`` (its first call; "" for the whole model), with
    containers more than ``depth`` levels below it drawn whole, and (``fold``) runs of
    identical blocks folded into one node."""
    flow = analysis.dataflow
    if flow is None:
        raise UsageError(f"no dataflow was recorded for {analysis.name}: analyse it again (--no-cache)")
    if depth is not None and depth < 1:
        raise UsageError(f"--depth {depth} shows nothing: give 1 or more (1: the block's own children)")
    tree = list(analysis.root.walk())
    index = _block_index(analysis, tree, block)
    nodes, edges = _Builder(flow, tree, depth).build(index)
    if fold:
        nodes, edges = _fold_runs(nodes, edges)
    return BlockGraph(analysis.name, block, depth, nodes, edges)


def _block_index(analysis: Analysis, tree: list[LayerNode], block: str) -> int:
    found = analysis.paths.get(block)
    if found is None:
        near = [node.path for node in tree if node.path.endswith(block) or block in node.path][:3]
        hint = f"; did you mean {', '.join(near)}?" if near else f"; `cnnexplorer summary {analysis.name}` lists them"
        raise UsageError(f"{analysis.name} has no module {block!r}{hint}")
    if not found.executed:
        raise UsageError(
            f"{block} of {analysis.name} did not run in the pass at input "
            f"{'x'.join(map(str, analysis.input_size))}: it has no dataflow"
        )
    index = tree.index(found)
    _check_recorded(analysis, tree, index)
    return index


def _check_recorded(analysis: Analysis, tree: list[LayerNode], index: int) -> None:
    """A module that ran has a call in the dataflow, unless it ran inside an atomic module's
    call (the layers of an nn.TransformerEncoderLayer), whose insides are that call's own."""
    flow = analysis.dataflow
    if any(s.node == index for s in flow.spans) or any(s.node == index for s in flow.steps):
        return
    block = tree[index].path
    outer = [tree[s.node] for s in flow.steps if s.node != NO_NODE and _holds(tree[s.node].path, block)]
    if outer:
        raise UsageError(
            f"{block} of {analysis.name} runs inside {outer[0].path} ({outer[0].type}), which the graph "
            f"draws as one node: draw the block that holds {outer[0].path}"
        )
    raise UsageError(f"no dataflow was recorded for {block} of {analysis.name}: analyse it again (--no-cache)")


def _holds(outer: str, path: str) -> bool:
    return outer == "" or path.startswith(outer + ".")


class _Builder:
    """Maps each step of the pass inside the block to the node that shows it."""

    def __init__(self, flow: Dataflow, tree: list[LayerNode], depth: int | None) -> None:
        self.flow, self.tree, self.depth = flow, tree, depth

    def build(self, block: int) -> tuple[list[GraphNode], list[tuple[str, str]]]:
        flow = self.flow
        span = next((i for i, s in enumerate(flow.spans) if s.node == block), None)
        if span is None:  # an atomic module: its first call alone
            step = next(i for i, s in enumerate(flow.steps) if s.node == block)
            levels: dict[int, int] = {}
            inside = {step: 1}
            results: tuple[int, ...] = (step,)
        else:
            levels = self._levels(span)
            inside = {i: levels[s.span] + 1 for i, s in enumerate(flow.steps) if s.span in levels}
            results = flow.spans[span].results
        nodes: dict[str, GraphNode] = {}
        calls: dict[str, int] = {}  # module path or op -> calls seen, for unique ids
        span_ids: dict[int, str] = {}  # a container call drawn whole -> its node's id
        step_ids: dict[int, str] = {}  # step -> the id of the node that shows it
        for step, level in inside.items():
            kind, index = self._shown_as(step, level)
            node_id = span_ids.get(index) if kind == "span" else None
            if node_id is None:
                node = self._node(kind, index, calls)
                nodes[node.id] = node
                node_id = node.id
                if kind == "span":
                    span_ids[index] = node_id
            step_ids[step] = node_id
        edges: dict[tuple[str, str], None] = {}
        for step in inside:
            for source in flow.steps[step].sources:
                start = step_ids.get(source, INPUT_ID)
                if start != step_ids[step]:
                    edges[(start, step_ids[step])] = None
        for source in results:
            edges[(step_ids.get(source, INPUT_ID), OUTPUT_ID)] = None
        block_node = self.tree[block]
        first = GraphNode(INPUT_ID, None, INPUT_ID, tuple(block_node.input_shape or ()), 0)
        last = GraphNode(OUTPUT_ID, None, OUTPUT_ID, tuple(block_node.output_shape or ()), 0)
        return [first, *nodes.values(), last], list(edges)

    def _levels(self, block_span: int) -> dict[int, int]:
        """The spans inside ``block_span`` (itself included, at 0) and their levels below it."""
        levels = {block_span: 0}
        for index in range(block_span + 1, len(self.flow.spans)):  # a span's parent comes before it
            parent = self.flow.spans[index].parent
            if parent in levels:
                levels[index] = levels[parent] + 1
        return levels

    def _shown_as(self, step: int, level: int) -> tuple[str, int]:
        """("step", step) where the step is shown as itself (``level`` levels below the block),
        ("span", span) where the container call at the depth holds it."""
        if self.depth is None or level <= self.depth:
            return ("step", step)
        span = self.flow.steps[step].span
        for _ in range(level - 1 - self.depth):
            span = self.flow.spans[span].parent
        return ("span", span)

    def _node(self, kind: str, index: int, calls: dict[str, int]) -> GraphNode:
        if kind == "span":
            span = self.flow.spans[index]
            module = self.tree[span.node]
            return GraphNode(
                _unique(module.path, calls),
                module.path,
                module.type,
                span.shape,
                span.macs,
                container=True,
                training_only=module.training_only,
                label=repeat_label(module),
            )
        step = self.flow.steps[index]
        if step.node == NO_NODE:
            within = self.tree[self.flow.spans[step.span].node] if step.span >= 0 else None
            return GraphNode(
                _unique(f"{step.op}()", calls),
                None,
                step.op,
                step.shape,
                step.macs,
                training_only=within.training_only if within is not None else False,
            )
        module = self.tree[step.node]
        return GraphNode(
            _unique(module.path, calls), module.path, module.type, step.shape, step.macs,
            training_only=module.training_only,
        )  # fmt: skip


def _unique(name: str, calls: dict[str, int]) -> str:
    """``name`` for its first node, ``name#2``, ``name#3`` for the next (a module called
    three times, three ``add_()`` in a block)."""
    calls[name] = calls.get(name, 0) + 1
    return name if calls[name] == 1 else f"{name}#{calls[name]}"


def _fold_runs(nodes: list[GraphNode], edges: list[tuple[str, str]]) -> tuple[list[GraphNode], list[tuple[str, str]]]:
    """Runs of two or more identical container nodes in a chain (same class, shape and MACs;
    each the only successor of the one before and its only predecessor) become one node."""
    successors: dict[str, list[str]] = {}
    predecessors: dict[str, list[str]] = {}
    for a, b in edges:
        successors.setdefault(a, []).append(b)
        predecessors.setdefault(b, []).append(a)

    def same(a: GraphNode, b: GraphNode) -> bool:
        alike = (a.op, a.shape, a.macs, a.training_only) == (b.op, b.shape, b.macs, b.training_only)
        chained = successors.get(a.id) == [b.id] and predecessors.get(b.id) == [a.id]
        return a.container and b.container and alike and chained

    runs: list[list[GraphNode]] = []
    for node in nodes:
        if runs and same(runs[-1][-1], node):
            runs[-1].append(node)
        else:
            runs.append([node])
    merged: dict[str, str] = {}
    folded: list[GraphNode] = []
    for run in runs:
        first = run[0]
        if len(run) == 1:
            folded.append(first)
            continue
        last = run[-1]
        node_id = f"{first.id}..{last.id}"
        folded.append(
            GraphNode(
                node_id, first.path, first.op, last.shape, sum(n.macs for n in run), container=True,
                repeat=len(run), last_path=last.path, training_only=first.training_only,
            )
        )  # fmt: skip
        merged.update({n.id: node_id for n in run})
    kept: dict[tuple[str, str], None] = {}
    for a, b in edges:
        a, b = merged.get(a, a), merged.get(b, b)
        if a != b:
            kept[(a, b)] = None
    return folded, list(kept)
