"""Memory estimates for inference and training (labelled as estimates everywhere they show).

Method (documented in the README):

- weights: parameters x bytes per element of the dtype, plus buffers (batch-norm
  running statistics); inference counts the inference graph only, training also the
  training-only heads;
- inference activations: the largest input + output pair of any single layer, the
  least a layer-by-layer forward pass must hold at once (branches can hold more); a
  layer whose output is its input (in-place activations, flatten views, dropout at
  inference) holds only one;
- training activations: the network input plus every layer's output, except outputs
  that share their input's memory (in-place activations, views): what autograd keeps
  for the backward pass, to a first approximation;
- gradients: one per trainable parameter; optimizer state: SGD with momentum keeps one
  buffer per parameter, Adam two.
"""

from __future__ import annotations

import math

from cnnexplorer.analysis.inputs import DTYPE_BYTES
from cnnexplorer.analysis.results import LayerNode, MemoryEstimate, Totals

OPTIMIZER_STATES = {"sgd": 1, "adam": 2}
_VIEWS = {"Flatten", "Unflatten", "Identity"}


def shares_input_memory(node: LayerNode, training: bool = True) -> bool:
    """Whether a layer's output lives in its input's memory."""
    return node.inplace or node.type in _VIEWS or (not training and node.type == "Dropout")


def estimate_memory(
    root: LayerNode, totals: Totals, batch: int, input_size: tuple[int, int, int], dtype: str
) -> MemoryEstimate:
    """Estimate memory for a batch of ``input_size`` from an aggregated layer tree."""
    element = DTYPE_BYTES[dtype]
    leaves = [n for n in root.walk() if n.is_leaf and n.executed]
    inference_leaves = [n for n in leaves if not n.training_only]
    trainable = root.trainable_params
    return MemoryEstimate(
        weight_bytes=totals.params * element,
        buffer_bytes=totals.buffers * element,
        inference_activation_bytes=max(
            (
                n.output_bytes + (0 if shares_input_memory(n, training=False) else n.input_bytes)
                for n in inference_leaves
            ),
            default=0,
        ),
        training_weight_bytes=root.params * element,
        gradient_bytes=trainable * element,
        training_activation_bytes=batch * math.prod(input_size) * element
        + sum(n.activation_bytes for n in leaves if not shares_input_memory(n, training=True)),
        optimizer_state_bytes={name: count * trainable * element for name, count in OPTIMIZER_STATES.items()},
    )
