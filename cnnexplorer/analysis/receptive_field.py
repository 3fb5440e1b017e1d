"""Receptive field and jump of every tensor of a forward pass, followed op by op.

A :class:`ReceptiveFieldMode` sits under the forward pass as a torch dispatch mode and
sees every aten operation, including those a model calls outside any module (the
residual ``+``, DenseNet's ``torch.cat``, ``torch.flatten``). For each output tensor it
records a :class:`FieldState`:

- convolution and pooling grow the field by ``(k - 1) * dilation * jump`` and multiply
  the jump by the stride, per spatial axis (the usual recurrence; padding moves the
  field but does not change its size);
- a spatial subsample (``x[:, :, ::2, ::2]``) multiplies the jump only;
- any other op that shrinks the feature map (adaptive pooling, a spatial mean) is
  treated as a pooling window of ``ceil(in / out)`` with stride ``floor(in / out)``;
- ops that combine tensors (add, cat) take the largest field over their inputs. When
  the inputs' fields differ, the result is the largest over paths, which bounds the
  true field from above: the state is marked ``exact=False`` from there on;
- once a tensor loses its spatial axes (flatten, linear) the field is the whole input
  and is reported as undefined (``None``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes
from torch.utils.flop_counter import flop_registry

aten = torch.ops.aten


@dataclass(frozen=True)
class FieldState:
    """Receptive field (pixels of the input) and jump (input pixels per output step)."""

    size: int
    jump: int
    exact: bool = True


_CONV = {aten.convolution.default}
_POOL = {
    aten.max_pool2d_with_indices.default,
    aten.max_pool2d.default,
    aten.avg_pool2d.default,
}
_BATCH_NORM = {
    aten._native_batch_norm_legit_no_training.default,
    aten._native_batch_norm_legit.default,
    aten._native_batch_norm_legit_functional.default,
    aten.native_batch_norm.default,
}


_IN_PLACE = {aten.relu_.default, aten.add_.Tensor, aten.mul_.Tensor, aten.hardtanh_.default}
_BINARY = {aten.add.Tensor, aten.mul.Tensor, aten.sub.Tensor, aten.div.Tensor}
_UNARY = {aten.relu.default, aten.sigmoid.default, aten.tanh.default}


def _shape_only(func, args: tuple, kwargs: dict) -> object:
    """The result of a shape-preserving op, made without running its meta kernel.

    On the meta device many kernels are Python decompositions costing 0.1-1 ms a call
    (batch norm above all); only output shapes matter here. These ops also count no
    FLOPs, so the FLOP counter below this mode loses nothing. Returns None for any
    other op, which then runs normally.
    """
    first = args[0] if args else None
    if func in _BATCH_NORM:
        empty = torch.empty(0, device=first.device, dtype=first.dtype)
        out = (torch.empty_like(first), empty, empty)
        if func is aten._native_batch_norm_legit_functional.default:
            out = out + (args[3], args[4])  # running stats, returned unchanged
        return out
    if kwargs:
        return None
    if func in _IN_PLACE:
        return first
    if func in _UNARY:
        return torch.empty_like(first)
    if func in _BINARY and isinstance(args[1], torch.Tensor):
        shape = torch.broadcast_shapes(first.shape, args[1].shape)
        return torch.empty(shape, device=first.device, dtype=torch.promote_types(first.dtype, args[1].dtype))
    if func is aten.cat.default:
        tensors = [t for t in first if t.dim() > 1 or t.numel() > 0]
        dim = (args[1] if len(args) > 1 else 0) % tensors[0].dim()
        shape = list(tensors[0].shape)
        shape[dim] = sum(t.shape[dim] for t in tensors)
        return torch.empty(shape, device=tensors[0].device, dtype=tensors[0].dtype)
    return None


def _pair(value: object, default: int) -> tuple[int, int]:
    if value is None or value == []:
        return (default, default)
    if isinstance(value, int):
        return (value, value)
    values = list(value)  # type: ignore[call-overload]
    return (values[0], values[-1])


def _grow(state: FieldState, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]) -> FieldState:
    # Fields are kept as one number: the larger of the two spatial axes.
    size = max(state.size + (k - 1) * d * state.jump for k, d in zip(kernel, dilation))
    jump = max(state.jump * s for s in stride)
    return FieldState(size, jump, state.exact)


def _tensors(args: tuple) -> list[torch.Tensor]:
    """Tensor arguments of an aten op, one level of lists deep (as in ``cat``)."""
    found = []
    for arg in args:
        if isinstance(arg, torch.Tensor):
            found.append(arg)
        elif isinstance(arg, (list, tuple)):
            found.extend(a for a in arg if isinstance(a, torch.Tensor))
    return found


def _is_spatial(tensor: object) -> bool:
    return isinstance(tensor, torch.Tensor) and tensor.dim() >= 3


class ReceptiveFieldMode(TorchDispatchMode):
    """Dispatch mode that follows receptive fields through a (meta-device) forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self._states: dict[int, FieldState | None] = {}
        # Keep every tensor seen alive so that ids are never reused within one pass;
        # on the meta device these hold no storage.
        self._alive: list[torch.Tensor] = []

    def mark_input(self, tensor: torch.Tensor) -> None:
        """Declare ``tensor`` as the network input: field 1, jump 1."""
        self._set(tensor, FieldState(1, 1))

    def state(self, tensor: object) -> FieldState | None:
        """The field of a tensor produced in the pass (``None`` if not spatial or unknown)."""
        if isinstance(tensor, (tuple, list)) and tensor:
            tensor = tensor[0]
        if hasattr(tensor, "logits"):  # GoogLeNet's training-mode output tuple
            tensor = tensor.logits
        return self._states.get(id(tensor)) if isinstance(tensor, torch.Tensor) else None

    def _set(self, tensor: torch.Tensor, state: FieldState | None) -> None:
        self._alive.append(tensor)
        self._states[id(tensor)] = state

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        with _disable_current_modes():  # the empties made here need no counting or tracking
            out = _shape_only(func, args, kwargs)
            if out is None and func.overloadpacket not in flop_registry:
                # An op the FLOP counter below would not count (torchinfo's many `.data`
                # detaches, views): skip its Python dispatch and run the kernel directly.
                out = func(*args, **kwargs)
        if out is None:
            out = func(*args, **kwargs)
        outputs = out if isinstance(out, (tuple, list)) else (out,)
        state = self._output_state(func, args, outputs[0])
        for tensor in outputs:
            if isinstance(tensor, torch.Tensor):
                self._set(tensor, state if _is_spatial(tensor) else None)
        return out

    def _output_state(self, func, args, result) -> FieldState | None:
        first = args[0] if args else None
        if func in _CONV:
            state = self.state(first)
            if state is None:
                return None
            kernel = tuple(args[1].shape[2:4])
            return _grow(state, kernel, _pair(args[3], 1), _pair(args[5], 1))
        if func in _POOL:
            state = self.state(first)
            if state is None:
                return None
            kernel = _pair(args[1], 1)
            stride = _pair(args[2], 1) if len(args) > 2 and args[2] else kernel
            has_dilation = func is not aten.avg_pool2d.default and len(args) > 4
            return _grow(state, kernel, stride, _pair(args[4], 1) if has_dilation else (1, 1))
        if func is aten.slice.Tensor and _is_spatial(first):
            state = self.state(first)
            dim = args[1] % first.dim()
            step = args[4] if len(args) > 4 else 1
            if state is None or dim < first.dim() - 2 or step == 1:
                return state
            return FieldState(state.size, state.jump * step, state.exact)
        known = [s for s in map(self._states.get, map(id, _tensors(args))) if s is not None]
        if not known:
            return None
        size = max(s.size for s in known)
        jump = max(s.jump for s in known)
        exact = all(s.exact for s in known) and len({(s.size, s.jump) for s in known}) == 1
        merged = FieldState(size, jump, exact)
        if _is_spatial(first) and _is_spatial(result) and first.dim() == result.dim():
            in_hw, out_hw = first.shape[-2:], result.shape[-2:]
            if any(o < i for i, o in zip(in_hw, out_hw)) and all(o > 0 for o in out_hw):
                kernel = tuple(math.ceil(i / o) for i, o in zip(in_hw, out_hw))
                stride = tuple(i // o for i, o in zip(in_hw, out_hw))
                return _grow(merged, kernel, stride, (1, 1))  # type: ignore[arg-type]
        return merged
