"""What an analysis returns: the layer tree, whole-model totals and the memory estimate."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from cnnexplorer.analysis.dataflow import Dataflow
from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.zoo import Architecture


@dataclass(frozen=True)
class ReceptiveField:
    """The input pixels one unit of a feature map sees, per spatial axis (height, width).

    Unit ``i`` of an axis sees input pixels ``start + i * jump`` to ``start + i * jump + size - 1``
    (``start`` is negative where the field reaches into the padding). The field is the
    extent of everything the unit depends on: at a merge (a residual addition, a
    concatenation) the union of the incoming fields. ``approximations`` says what made it
    inexact (empty: exact).
    """

    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[int, int]
    approximations: tuple[str, ...] = ()
    # Every unit sees the whole input: an op mixed all positions (global pooling feeding back,
    # as in squeeze-excitation); ``size`` is then the input's, ``jump`` and ``start`` carry no meaning.
    whole: bool = False

    @property
    def exact(self) -> bool:
        return not self.approximations

    @property
    def largest(self) -> int:
        """The larger of the two axes' sizes."""
        return max(self.size)

    @property
    def largest_jump(self) -> int:
        return max(self.jump)

    @property
    def centre(self) -> tuple[float, float]:
        """Input coordinates (row, column) of the centre of unit (0, 0)'s field."""
        return (self.start[0] + (self.size[0] - 1) / 2, self.start[1] + (self.size[1] - 1) / 2)

    @property
    def note(self) -> str | None:
        """What is approximate, in words; None when the field is exact."""
        return "; ".join(self.approximations) or None


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated bytes for one forward pass (inference) and one training step."""

    weight_bytes: int
    buffer_bytes: int
    inference_activation_bytes: int
    training_weight_bytes: int
    gradient_bytes: int
    training_activation_bytes: int  # the input batch plus every tensor autograd saves for backward
    optimizer_state_bytes: dict[str, int]
    training_buffer_bytes: int = 0  # buffers of the whole model, training-only heads included

    @property
    def inference_bytes(self) -> int:
        return self.weight_bytes + self.buffer_bytes + self.inference_activation_bytes

    def training_bytes(self, optimizer: str = "sgd") -> int:
        """Weights + gradients + optimizer state + activations saved for backward."""
        return (
            self.training_weight_bytes
            + self.training_buffer_bytes
            + self.gradient_bytes
            + self.optimizer_state_bytes[optimizer]
            + self.training_activation_bytes
        )


@dataclass
class LayerNode:
    """One module of the model with its own and (for containers) aggregated figures."""

    path: str  # dotted module path; "" for the model itself
    type: str
    depth: int
    is_leaf: bool
    children: list[LayerNode] = field(default_factory=list)
    input_shape: tuple[int, ...] | None = None
    output_shape: tuple[int, ...] | None = None
    kernel_size: tuple[int, ...] | None = None
    stride: tuple[int, ...] | None = None
    padding: tuple[int, ...] | str | None = None
    dilation: tuple[int, ...] | None = None
    groups: int | None = None
    params: int = 0
    trainable_params: int = 0
    buffers: int = 0  # elements in buffers (batch-norm running statistics)
    buffer_bytes: int = 0  # the buffers' bytes, each at its own dtype
    macs: int = 0
    # Output bytes of this layer; containers: the sum over their layers, leaving out outputs
    # that share their input's memory (in-place activations, views).
    activation_bytes: int = 0
    output_bytes: int = 0  # bytes of this node's own output tensor (first call)
    input_bytes: int = 0
    field: ReceptiveField | None = None  # of this node's output (first call); None: no spatial axes
    training_only: bool = False
    calls: int = 0
    inplace: bool = False

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1] if self.path else ""

    @property
    def flops(self) -> int:
        """Floating-point operations: 2 per multiply-accumulate."""
        return 2 * self.macs

    @property
    def receptive_field(self) -> int | None:
        """The output's receptive field in input pixels (the larger axis), None without spatial axes."""
        return self.field.largest if self.field else None

    @property
    def jump(self) -> int | None:
        """Input pixels between neighbouring output units (the larger axis)."""
        return self.field.largest_jump if self.field else None

    @property
    def receptive_field_exact(self) -> bool:
        return self.field is None or self.field.exact

    @property
    def frozen_params(self) -> int:
        return self.params - self.trainable_params

    @property
    def executed(self) -> bool:
        return self.calls > 0

    def walk(self) -> Iterator[LayerNode]:
        """This node and all its descendants, depth first in registration order."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Totals:
    """Whole-model figures (inference graph: training-only heads excluded)."""

    params: int
    trainable_params: int
    buffers: int
    macs: int
    param_bytes: int
    activation_bytes: int
    weight_layers: int  # convolutions and linear layers on the inference path
    buffer_bytes: int = 0
    training_only_params: int = 0
    training_only_macs: int = 0

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def params_with_training_only(self) -> int:
        return self.params + self.training_only_params


@dataclass
class Analysis:
    """The analysed model: tree, execution-ordered layers, totals and memory estimate."""

    request: AnalysisRequest
    root: LayerNode
    layers: list[LayerNode]  # every executed node, containers included, in first-call order
    totals: Totals
    memory: MemoryEstimate
    flop_counter_flops: int  # FlopCounterMode's count of the inference path (training-only heads apart)
    training_only_flop_counter_flops: int = 0  # FlopCounterMode's count inside the training-only heads
    # Of the last feature map before global pooling or flattening; None if the model has none.
    receptive_field: ReceptiveField | None = None
    dataflow: Dataflow | None = None  # which module call or op fed which (None: not recorded)
    arch: Architecture | None = None

    @property
    def name(self) -> str:
        return self.request.model

    @property
    def input_size(self) -> tuple[int, int, int]:
        return self.request.input_size

    @property
    def batch(self) -> int:
        return self.request.batch

    @property
    def dtype(self) -> str:
        return self.request.dtype

    @cached_property
    def paths(self) -> dict[str, LayerNode]:
        """Every node by its dotted module path."""
        return {node.path: node for node in self.root.walk()}

    def node(self, path: str) -> LayerNode:
        """The node at a dotted module path."""
        return self.paths[path]

    @property
    def receptive_field_exact(self) -> bool:
        """Whether the headline receptive field is exact."""
        return self.receptive_field is None or self.receptive_field.exact


def inference_params(node: LayerNode) -> int:
    """``node``'s parameters on the inference path: training-only parts left out (0 for one)."""
    return _inference(node, "params")


def inference_macs(node: LayerNode) -> int:
    """``node``'s MACs on the inference path: training-only parts left out (0 for one)."""
    return _inference(node, "macs")


def shown_figures(node: LayerNode) -> tuple[int, int]:
    """The params and MACs a table row or the details show for ``node``: a training-only
    head's own, any other node's inference-path part (the totals' quantity)."""
    if node.training_only:
        return node.params, node.macs
    return inference_params(node), inference_macs(node)


def _inference(node: LayerNode, figure: str) -> int:
    if node.training_only:
        return 0
    if not any(n.training_only for n in node.walk()):
        return getattr(node, figure)
    own = getattr(node, figure) - sum(getattr(child, figure) for child in node.children)
    return own + sum(_inference(child, figure) for child in node.children)
