"""Side-by-side diff of two analysed architectures (Textual-free).

Alignment method: the two layer trees are aligned level by level, from the top. At each
level the executed children of two matched nodes (in first-call order) are aligned with
an edit distance (Needleman-Wunsch) whose costs are:

- a pair with identical signatures (type, input and output shapes, kernel, stride,
  padding, dilation, groups, params; for containers also every descendant's signature): 0;
- a pair of the same type that differs: 0.3; of different types but the same kind (two
  containers, two poolings, two normalisations...): 0.6;
- a layer present on one side only: 1. Layers of different kinds never pair up.

Since an insertion costs more than any substitution, an inserted layer is one insertion,
not a cascade of mismatches; since a substitution costs less than half an insertion, a
layer whose widths changed pairs with its counterpart rather than with a shifted twin
(DenseNet-169's dense layers against DenseNet-121's). Among alignments of equal cost, the
one that pairs equal module names wins (0.0001 per pair of other names), then the one
that puts an insertion at the end of a run of identical layers. Matched containers are
then aligned inside in the same way; a one-sided container brings its whole subtree as
added or removed rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cnnexplorer.errors import UsageError

if TYPE_CHECKING:  # this module stays torch-free until diff_models analyses
    from cnnexplorer.analysis import Analysis, AnalysisRequest, LayerNode

STATUSES = ("same", "changed", "added", "removed")
# How the CLI and the app show a status: a text marker (readable without colour) and a colour.
MARKERS = {"same": " ", "changed": "~", "added": "+", "removed": "-"}
STYLES = {"same": "", "changed": "yellow", "added": "green", "removed": "red"}

# Costs in units of 0.0001, so that names (1 per pair) only ever break ties.
_GAP = 10_000
_SAME_TYPE = 3_000
_SAME_KIND = 6_000
_OTHER_NAME = 1

_ACTIVATIONS = {"ReLU", "ReLU6", "LeakyReLU", "GELU", "SiLU", "Sigmoid", "Tanh", "Hardswish"}


@dataclass
class DiffRow:
    """One aligned pair: a node of the left model, of the right model, or of both."""

    status: str  # one of STATUSES
    left: LayerNode | None
    right: LayerNode | None
    depth: int  # 1 for the models' top-level children
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # attribute -> (left, right)
    children: list[DiffRow] = field(default_factory=list)

    @property
    def node(self) -> LayerNode:
        """The right side's node, or the left one's for a removed row."""
        return self.right or self.left  # type: ignore[return-value]

    @property
    def is_leaf(self) -> bool:
        return self.node.is_leaf

    @property
    def params_delta(self) -> int:
        return _figure(self.right, "params") - _figure(self.left, "params")

    @property
    def macs_delta(self) -> int:
        return _figure(self.right, "macs") - _figure(self.left, "macs")

    def walk(self) -> Iterator[DiffRow]:
        """This row and every row below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class TotalDelta:
    left: int
    right: int

    @property
    def delta(self) -> int:
        return self.right - self.left


@dataclass
class Diff:
    """Two analyses aligned: a tree of rows under ``root`` and the totals of both sides."""

    left: Analysis
    right: Analysis
    root: DiffRow

    @property
    def rows(self) -> list[DiffRow]:
        """Every aligned row below the models themselves, depth first."""
        return [row for row in self.root.walk() if row is not self.root]

    @property
    def totals(self) -> dict[str, TotalDelta]:
        """params, macs, activation_bytes and weight_layers (depth) of both sides."""
        names = ("params", "macs", "activation_bytes", "weight_layers")
        return {n: TotalDelta(getattr(self.left.totals, n), getattr(self.right.totals, n)) for n in names}

    def leaf_counts(self) -> dict[str, int]:
        """How many leaf layers are in each status."""
        counts = dict.fromkeys(STATUSES, 0)
        for row in self.rows:
            if row.is_leaf:
                counts[row.status] += 1
        return counts

    def swapped(self) -> Diff:
        """The same two analyses with the sides exchanged (aligned afresh)."""
        return diff_analyses(self.right, self.left)


def diff_models(left: AnalysisRequest, right: AnalysisRequest, device: str = "meta") -> Diff:
    """Analyse the two requested architectures (on ``device``: see ``analyze_on``) and align them.

    Raises UsageError for an input that one side cannot take (the message starts with
    that side: ``left (alexnet-2012): ...``).
    """
    from cnnexplorer.analysis.store import analyze_on  # torch only for a side the disk cache lacks

    analyses = {}
    for side, request in (("left", left), ("right", right)):
        try:
            analyses[side] = analyze_on(request, device)
        except UsageError as error:
            raise type(error)(f"{side} ({request.model}): {error}") from None
    return diff_analyses(analyses["left"], analyses["right"])


def diff_analyses(left: Analysis, right: Analysis) -> Diff:
    """Align two analyses (see the module docstring for the method)."""
    aligner = _Aligner(left, right)
    root = aligner.pair(left.root, right.root, depth=0)
    return Diff(left=left, right=right, root=root)


def visible_rows(diff: Diff, depth: int | None = None, only_diff: bool = False) -> list[DiffRow]:
    """The rows a reader sees, in order.

    With no ``depth``, only changed containers are opened: a block that is the same, or
    present on one side only, is one row. With ``depth``, every container is opened down
    to that nesting level. ``only_diff`` leaves out the rows that are the same.
    """
    rows: list[DiffRow] = []

    def visit(parent: DiffRow) -> None:
        for row in parent.children:
            if not (only_diff and row.status == "same"):
                rows.append(row)
            opened = row.status == "changed" if depth is None else row.depth < depth
            if opened:
                visit(row)

    visit(diff.root)
    return rows


def _figure(node: LayerNode | None, name: str) -> int:
    return getattr(node, name) if node is not None else 0


def _channels(shape: tuple[int, ...] | None) -> int | None:
    return shape[1] if shape and len(shape) > 1 else None


def _rank(shape: tuple[int, ...] | None) -> int:
    return len(shape) if shape else 0


def _output_size(node: LayerNode) -> tuple[int, ...] | None:
    return node.output_shape[2:] if node.output_shape and len(node.output_shape) > 2 else None


def _kind(node: LayerNode) -> str:
    if not node.is_leaf:
        return "container"
    for kind in ("Conv", "Linear", "Pool", "Norm", "Dropout"):
        if kind in node.type:
            return kind
    return "activation" if node.type in _ACTIVATIONS else node.type


_HYPERPARAMETERS = (
    ("kernel", "kernel_size"),
    ("stride", "stride"),
    ("padding", "padding"),
    ("dilation", "dilation"),
    ("groups", "groups"),
)


def _own_changes(left: LayerNode, right: LayerNode, inputs: tuple[Any, Any]) -> dict[str, tuple[Any, Any]]:
    """The attributes in which two paired nodes differ, children aside; ``inputs`` are
    the input shapes of both (see :meth:`_Aligner.input_shape`)."""
    changes: dict[str, tuple[Any, Any]] = {}
    if left.type != right.type:
        changes["type"] = (left.type, right.type)
    left_in, right_in = _channels(inputs[0]), _channels(inputs[1])
    left_out, right_out = _channels(left.output_shape), _channels(right.output_shape)
    if _rank(inputs[0]) != _rank(inputs[1]):  # e.g. flattened on one side only
        changes["input_shape"] = inputs
    elif left_in == left_out and right_in == right_out and left_in != right_in:
        changes["channels"] = (left_in, right_in)  # a layer that keeps its channel count
    else:
        if left_in != right_in:
            changes["in_channels"] = (left_in, right_in)
        if left_out != right_out:
            changes["out_channels"] = (left_out, right_out)
    for name, attribute in _HYPERPARAMETERS:
        if getattr(left, attribute) != getattr(right, attribute):
            changes[name] = (getattr(left, attribute), getattr(right, attribute))
    if _output_size(left) != _output_size(right):
        changes["output_size"] = (_output_size(left), _output_size(right))
    return changes


class _Aligner:
    """Aligns the trees of two analyses, memoising node signatures."""

    def __init__(self, left: Analysis, right: Analysis) -> None:
        self.order = {id(node): i for analysis in (left, right) for i, node in enumerate(analysis.layers)}
        self.signatures: dict[int, tuple] = {}

    def children(self, node: LayerNode) -> list[LayerNode]:
        """Executed children in first-call order."""
        executed = [child for child in node.children if id(child) in self.order]
        return sorted(executed, key=lambda child: self.order[id(child)])

    def input_shape(self, node: LayerNode) -> tuple[int, ...] | None:
        """What a node consumes: a container's is its first layer's input. (The recorded
        input of a container called with a list, like DenseNet's layers, is only the
        list's first tensor, not the concatenation that its first layer sees.)"""
        children = self.children(node)
        return self.input_shape(children[0]) if children else node.input_shape

    def signature(self, node: LayerNode) -> tuple:
        key = id(node)
        if key not in self.signatures:
            own = (
                node.type,
                self.input_shape(node),
                node.output_shape,
                node.params,
                *(getattr(node, attribute) for _, attribute in _HYPERPARAMETERS),
            )
            self.signatures[key] = (*own, tuple(self.signature(child) for child in self.children(node)))
        return self.signatures[key]

    def pair(self, left: LayerNode, right: LayerNode, depth: int) -> DiffRow:
        """The row of two matched nodes, with their children aligned below it."""
        children = [
            self.pair(a, b, depth + 1)
            if a is not None and b is not None
            else self.one_sided(a or b, a is None, depth + 1)
            for a, b in self.align(self.children(left), self.children(right))
        ]
        changes = _own_changes(left, right, (self.input_shape(left), self.input_shape(right)))
        if any(child.status != "same" for child in children):
            changes["contents"] = (len(self.children(left)), len(self.children(right)))
        if not changes and left.params != right.params:
            changes["params"] = (left.params, right.params)  # e.g. a bias switched on or off
        return DiffRow("changed" if changes else "same", left, right, depth, changes, children)

    def one_sided(self, node: LayerNode, added: bool, depth: int) -> DiffRow:
        """A node (and its subtree) present on one side only."""
        children = [self.one_sided(child, added, depth + 1) for child in self.children(node)]
        if added:
            return DiffRow("added", None, node, depth, children=children)
        return DiffRow("removed", node, None, depth, children=children)

    def pair_cost(self, left: LayerNode, right: LayerNode) -> int | None:
        """The cost of pairing two nodes; None when they cannot pair."""
        names = 0 if left.name == right.name else _OTHER_NAME
        if self.signature(left) == self.signature(right):
            return names
        if left.type == right.type:
            return _SAME_TYPE + names
        if _kind(left) == _kind(right):
            return _SAME_KIND + names
        return None

    def align(self, left: list[LayerNode], right: list[LayerNode]) -> list[tuple[LayerNode | None, LayerNode | None]]:
        """Minimum-cost alignment of two sibling lists, as (left or None, right or None) pairs."""
        n, m = len(left), len(right)
        cost = [[_GAP * (i + j) if i == 0 or j == 0 else 0 for j in range(m + 1)] for i in range(n + 1)]
        pairs: dict[tuple[int, int], int] = {}
        for i in range(1, n + 1):
            for j in range(1, m + 1):
                best = min(cost[i - 1][j], cost[i][j - 1]) + _GAP
                pair = self.pair_cost(left[i - 1], right[j - 1])
                if pair is not None:
                    pairs[i, j] = pair
                    best = min(best, cost[i - 1][j - 1] + pair)
                cost[i][j] = best
        return self._trace(left, right, cost, pairs)

    @staticmethod
    def _trace(left, right, cost, pairs) -> list[tuple[LayerNode | None, LayerNode | None]]:
        # Walking back, an insertion is preferred to a deletion, and both to a pairing of
        # equal cost: a removed row comes before the added row that replaces it, and a layer
        # inserted among identical ones (VGG's extra convolution) goes at the end of its run.
        i, j = len(left), len(right)
        steps: list[tuple[LayerNode | None, LayerNode | None]] = []
        while i or j:
            if j and cost[i][j] == cost[i][j - 1] + _GAP:
                j -= 1
                steps.append((None, right[j]))
            elif i and cost[i][j] == cost[i - 1][j] + _GAP:
                i -= 1
                steps.append((left[i], None))
            else:
                i, j = i - 1, j - 1
                steps.append((left[i], right[j]))
        return steps[::-1]
