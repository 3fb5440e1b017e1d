"""Memory estimates for inference and training (labelled as estimates everywhere they show).

Method (documented in the README):

- weights: parameters x bytes per element of the dtype; buffers (batch-norm running
  statistics) at each buffer's own dtype; inference counts the inference graph only,
  training also the training-only heads;
- inference activations: the largest input + output pair of any single layer, the
  least a layer-by-layer forward pass must hold at once (branches can hold more); a
  layer whose output is its input (in-place activations, flatten views, dropout at
  inference) holds only one;
- training activations: the input batch plus every tensor autograd saves for the
  backward pass, counted once per storage (a view, or a tensor saved by several ops,
  once) and without the parameters and buffers: recorded with a saved-tensor hook
  during the analysis's training-mode pass, so that layer outputs, concatenations,
  pooling indices, dropout masks and functional ops all count. Attention is run there as
  the CPU runs it (:mod:`cnnexplorer.analysis.attention`): the fused kernel the CPU picks
  saves its output and log-sum-exp, not the attention matrix the meta device's math
  kernel would save (ViT-B/16 at batch 2: 224 MiB saved, as a real CPU forward keeps,
  against 295 MiB);
- gradients: one per trainable parameter; optimizer state: SGD with momentum keeps one
  buffer per parameter, Adam two.

This module is torch-free: :class:`SavedTensors` only calls methods of the tensors it is given.
"""

from __future__ import annotations

from typing import Any

from cnnexplorer.analysis.inputs import DTYPE_BYTES
from cnnexplorer.analysis.results import LayerNode, MemoryEstimate, Totals

OPTIMIZER_STATES = {"sgd": 1, "adam": 2}
_VIEWS = {"Flatten", "Unflatten", "Identity"}


def shares_input_memory(node: LayerNode, training: bool = True) -> bool:
    """Whether a layer's output lives in its input's memory."""
    return node.inplace or node.type in _VIEWS or (not training and node.type == "Dropout")


class SavedTensors:
    """Bytes of the tensors autograd saves for the backward pass, each storage once.

    ``pack`` and ``unpack`` are the hooks of ``torch.autograd.graph.saved_tensors_hooks``.
    Storages are told apart by identity (on the meta device every data pointer is 0);
    the tensors are kept alive so that no identity is reused within a pass.
    """

    def __init__(self, excluded: list[Any]) -> None:
        self._excluded = {_storage_key(t) for t in excluded}
        self._excluded_tensors = {id(t) for t in excluded}  # saved as themselves: found without their storage
        self._bytes: dict[int, int] = {}
        self._kept: list[Any] = []

    def pack(self, tensor: Any) -> Any:
        if id(tensor) in self._excluded_tensors:
            return tensor
        storage = tensor.untyped_storage()
        key = storage._cdata
        if key not in self._excluded and key not in self._bytes:
            self._bytes[key] = storage.nbytes()
            self._kept.append(tensor)
        return tensor

    @staticmethod
    def unpack(tensor: Any) -> Any:
        return tensor

    @property
    def bytes(self) -> int:
        return sum(self._bytes.values())


def _storage_key(tensor: Any) -> int:
    return tensor.untyped_storage()._cdata


def estimate_memory(root: LayerNode, totals: Totals, training_activation_bytes: int, dtype: str) -> MemoryEstimate:
    """Estimate memory from an aggregated layer tree and the bytes a training step keeps
    for backward (the input batch plus the saved tensors)."""
    element = DTYPE_BYTES[dtype]
    inference_leaves = [n for n in root.walk() if n.is_leaf and n.executed and not n.training_only]
    trainable = root.trainable_params
    return MemoryEstimate(
        weight_bytes=totals.params * element,
        buffer_bytes=totals.buffer_bytes,
        inference_activation_bytes=max(
            (
                n.output_bytes + (0 if shares_input_memory(n, training=False) else n.input_bytes)
                for n in inference_leaves
            ),
            default=0,
        ),
        training_weight_bytes=root.params * element,
        gradient_bytes=trainable * element,
        training_activation_bytes=training_activation_bytes,
        optimizer_state_bytes={name: count * trainable * element for name, count in OPTIMIZER_STATES.items()},
        training_buffer_bytes=root.buffer_bytes,
    )
