"""Receptive field of every tensor of a forward pass, per spatial axis, followed op by op.

A :class:`ReceptiveFieldMode` sits under the forward pass as a torch dispatch mode and
sees every aten operation, including those a model calls outside any module (the
residual ``+``, DenseNet's ``torch.cat``, ``x[:, :, ::2, ::2]``, ``torch.flatten``). For
each output tensor with spatial axes (the last two of a tensor of 4 or more dimensions)
it records a :class:`~cnnexplorer.analysis.results.ReceptiveField`: per axis, the field
size, the jump and where unit 0's field starts.

- convolution and pooling of kernel k, stride s, padding p, dilation d (per axis):
  ``size += (k - 1) * d * jump``, ``start -= p * jump``, ``jump *= s``;
- slicing an axis from ``a`` in steps of ``m``: ``start += a * jump``, ``jump *= m``;
  padding an axis by ``p`` before it: ``start -= p * jump``;
- adaptive pooling whose windows tile the map evenly (``in % out == 0``) is a pooling
  window of ``in / out``; a global mean or adaptive pooling to 1x1 sees the whole map;
- ops that act on each position alone (activations, batch norm, dropout, the residual
  addition, concatenation along the channels, reshapes that keep the spatial axes) take
  the union of their inputs' intervals: exact, whatever the paths' offsets;
- anything else is approximate and says so: an op this tracker does not model, adaptive
  pooling with uneven windows, paths with different jumps meeting at a merge;
- once a tensor loses its spatial axes (flatten, a linear layer) it has no field (``None``).

:attr:`ReceptiveFieldMode.final` lists, in order, the fields of the feature maps that
global pooling or flattening consumed: the last one is the network's headline field.
"""

from __future__ import annotations

import functools
import math

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry, shape_wrapper

from cnnexplorer import units
from cnnexplorer.analysis import meta_shortcuts
from cnnexplorer.analysis.results import ReceptiveField

aten = torch.ops.aten

INPUT_FIELD = ReceptiveField(size=(1, 1), jump=(1, 1), start=(0, 0))

_CONV = {aten.convolution.default}
_POOL = {
    aten.max_pool2d_with_indices.default,
    aten.max_pool2d.default,
    aten.avg_pool2d.default,
    aten.max_pool3d_with_indices.default,
    aten.avg_pool3d.default,
}
_ADAPTIVE_POOL = {
    aten._adaptive_avg_pool2d.default,
    aten.adaptive_max_pool2d.default,
    aten._adaptive_avg_pool3d.default,
    aten.adaptive_max_pool3d.default,
}
_REDUCE = {aten.mean.dim, aten.sum.dim_IntList, aten.amax.default, aten.amin.default}
_PAD = {aten.constant_pad_nd.default, aten.reflection_pad2d.default, aten.replication_pad2d.default}
_BATCH_NORM = {
    aten._native_batch_norm_legit_no_training.default,
    aten._native_batch_norm_legit.default,
    aten._native_batch_norm_legit_functional.default,
    aten.native_batch_norm.default,
}
# Ops that act on each spatial position alone, beyond those tagged pointwise.
_POSITIONWISE = _BATCH_NORM | {
    aten.native_dropout.default,
    aten.bernoulli_.float,
    aten.bernoulli.default,
    aten._to_copy.default,
    aten.copy_.default,
    aten.detach.default,
    aten.alias.default,
    aten.lift_fresh.default,
    aten.empty_like.default,
    aten.zeros_like.default,
    aten.ones_like.default,
}
# Ops that rearrange a tensor's memory: exact while the spatial axes stay the last two, unchanged.
_RESHAPE = {
    aten.view.default,
    aten._unsafe_view.default,
    aten.reshape.default,
    aten.unsqueeze.default,
    aten.squeeze.dim,
    aten.squeeze.dims,
    aten.squeeze.default,
    aten.expand.default,
    aten.permute.default,
    aten.transpose.int,
    aten.split.Tensor,
    aten.split_with_sizes.default,
    aten.narrow.default,
    aten.slice.Tensor,
    aten.select.int,
    aten.clone.default,
}

_IN_PLACE = {aten.relu_.default, aten.add_.Tensor, aten.mul_.Tensor, aten.hardtanh_.default}
_BINARY = {aten.add.Tensor, aten.mul.Tensor, aten.sub.Tensor, aten.div.Tensor}
_UNARY = {aten.relu.default, aten.sigmoid.default, aten.tanh.default}


def _shape_only(func, args: tuple, kwargs: dict) -> object:
    """The result of a shape-preserving op, made without running its meta kernel.

    On the meta device many kernels are Python decompositions costing 0.1-1 ms a call
    (batch norm and convolution above all); only output shapes matter here. Returns None
    for any other op, and for tensors that hold values (off the meta device), which then
    run normally.
    """
    first = args[0] if args else None
    probe = first[0] if isinstance(first, (list, tuple)) and first else first
    if not (isinstance(probe, torch.Tensor) and probe.is_meta):
        return None
    if func in _CONV:
        return _convolution_output(*args)
    if func in _BATCH_NORM:
        # Training-mode batch norm returns (and autograd saves) a mean and an inverse
        # standard deviation per channel; inference returns empty ones.
        stats = 0 if func is aten._native_batch_norm_legit_no_training.default else first.shape[1]
        empty = torch.empty(stats, device=first.device, dtype=first.dtype)
        out = (_empty_like(first), empty, _empty_like(empty))
        if func is aten._native_batch_norm_legit_functional.default:
            out = out + (args[3], args[4])  # running stats, returned unchanged
        return out
    if kwargs:
        return None
    if func in _IN_PLACE:
        return first
    if func in _UNARY:
        return _empty_like(first)
    if func in _BINARY and isinstance(args[1], torch.Tensor):
        same = first.shape == args[1].shape  # a residual addition: no broadcasting to work out
        shape = first.shape if same else torch.broadcast_shapes(first.shape, args[1].shape)
        return torch.empty(shape, device=first.device, dtype=torch.promote_types(first.dtype, args[1].dtype))
    if func is aten.cat.default:
        tensors = [t for t in first if t.dim() > 1 or t.numel() > 0]
        dim = (args[1] if len(args) > 1 else 0) % tensors[0].dim()
        shape = list(tensors[0].shape)
        shape[dim] = sum(t.shape[dim] for t in tensors)
        return torch.empty(shape, device=tensors[0].device, dtype=tensors[0].dtype)
    return None


def _empty_like(tensor: torch.Tensor) -> torch.Tensor:
    """``torch.empty_like`` (a Python decomposition on the meta device, 20 us a call) made
    directly with the same strides where it would keep them: for a dense tensor."""
    if not tensor.is_contiguous():
        return torch.empty_like(tensor)
    return torch.empty_strided(tensor.shape, tensor.stride(), dtype=tensor.dtype, device=tensor.device)


def _convolution_output(x, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """A convolution's output: per spatial axis ``(size + 2p - d(k - 1) - 1) // s + 1``; None
    where the meta kernel should run instead, to raise its error (channels that do not
    match, a map smaller than the kernel) or to pick a memory format (a non-contiguous input)."""
    spatial = weight.dim() - 2
    per_axis = [_per_axis(value, spatial) for value in (stride, padding, dilation)]
    if (
        transposed
        or x.dim() != weight.dim()
        or spatial < 1
        or None in per_axis
        or x.shape[1] != weight.shape[1] * groups
        or weight.shape[0] % groups
        or x.dtype != weight.dtype
        or (bias is not None and (bias.dtype != x.dtype or tuple(bias.shape) != (weight.shape[0],)))
        or not x.is_contiguous()
    ):
        return None
    strides, paddings, dilations = per_axis
    shape = [x.shape[0], weight.shape[0]]
    for axis, kernel in enumerate(weight.shape[2:]):
        size = (x.shape[2 + axis] + 2 * paddings[axis] - dilations[axis] * (kernel - 1) - 1) // strides[axis] + 1
        if size < 1:
            return None
        shape.append(size)
    return torch.empty(shape, device=x.device, dtype=x.dtype)


def _per_axis(value: object, axes: int) -> list[int] | None:
    """A convolution's stride, padding or dilation, one int per spatial axis (None if malformed)."""
    values = [value] if isinstance(value, int) else list(value)  # type: ignore[call-overload]
    if len(values) == 1:
        values = values * axes
    return values if len(values) == axes and all(isinstance(v, int) for v in values) else None


_SHAPE_WRAPPED = shape_wrapper(lambda: None).__code__


def _flops(formula, args: tuple, kwargs: dict, out: object) -> int:
    """An op's FLOPs by FlopCounterMode's formula, called as FlopCounterMode calls it.

    Most formulas take shapes, through a wrapper that maps every argument with torch's
    pytree (the larger part of a call's cost): aten arguments are flat or lists, so they
    are mapped here directly and handed to the formula itself.
    """
    if getattr(formula, "__code__", None) is not _SHAPE_WRAPPED:
        return formula(*args, **kwargs, out_val=out)
    shaped = {name: _shapes(value) for name, value in kwargs.items()}
    return formula.__wrapped__(*_shapes(args), out_shape=_shapes(out), **shaped)


def _shapes(value: object) -> object:
    """``value`` with each tensor, in it or in its lists and tuples, replaced by its shape."""
    if isinstance(value, torch.Tensor):
        return value.shape
    if isinstance(value, list):
        return [_shapes(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_shapes(item) for item in value)
    return value


def _is_spatial(tensor: object) -> bool:
    """Whether a tensor has spatial axes: (N, C, ..., H, W), the last two."""
    return isinstance(tensor, torch.Tensor) and tensor.dim() >= 4


def _tensors(args: tuple) -> list[torch.Tensor]:
    """Tensor arguments of an aten op, one level of lists deep (as in ``cat``)."""
    found = []
    for arg in args:
        if isinstance(arg, torch.Tensor):
            found.append(arg)
        elif isinstance(arg, (list, tuple)):
            found.extend(a for a in arg if isinstance(a, torch.Tensor))
    return found


def _arguments(func, args: tuple, kwargs: dict) -> dict:
    """An op's arguments by name, defaults filled in from its schema."""
    bound = {}
    for index, (name, default) in enumerate(_schema(func)):
        if index < len(args):
            bound[name] = args[index]
        elif name in kwargs:
            bound[name] = kwargs[name]
        elif default is not _NO_DEFAULT:
            bound[name] = default
    return bound


_NO_DEFAULT = object()


@functools.cache
def _schema(func) -> tuple[tuple[str, object], ...]:
    """An op's argument names and defaults (its schema's objects are made anew at each read)."""
    return tuple((a.name, a.default_value if a.has_default_value() else _NO_DEFAULT) for a in func._schema.arguments)


def _pair(value: object, default: int) -> tuple[int, int]:
    """A kernel, stride, padding or dilation argument for the last two axes."""
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return (default, default)
    if isinstance(value, int):
        return (value, value)
    values = [int(v) for v in value]  # type: ignore[union-attr]
    return (values[-2], values[-1]) if len(values) > 1 else (values[0], values[0])


def _window(
    field: ReceptiveField,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    note: str | None = None,
) -> ReceptiveField:
    """The field after a sliding window, axis by axis."""
    axes = range(2)
    return ReceptiveField(
        size=tuple(field.size[a] + (kernel[a] - 1) * dilation[a] * field.jump[a] for a in axes),  # type: ignore[arg-type]
        jump=tuple(field.jump[a] * stride[a] for a in axes),  # type: ignore[arg-type]
        start=tuple(field.start[a] - padding[a] * field.jump[a] for a in axes),  # type: ignore[arg-type]
        approximations=_with(field.approximations, note),
    )


def _with(notes: tuple[str, ...], note: str | None) -> tuple[str, ...]:
    return notes if note is None or note in notes else (*notes, note)


def _union(fields: list[ReceptiveField], op: str) -> ReceptiveField:
    """The union of the fields of tensors an op combines position by position."""
    if len(fields) == 1:
        return fields[0]
    notes: tuple[str, ...] = ()
    for field in fields:
        for note in field.approximations:
            notes = _with(notes, note)
    size, jump, start = [], [], []
    for axis in range(2):
        jumps = {f.jump[axis] for f in fields}
        if len(jumps) > 1:
            notes = _with(notes, f"paths with different jumps meet at {op}")
        low = min(f.start[axis] for f in fields)
        high = max(f.start[axis] + f.size[axis] for f in fields)
        size.append(high - low)
        jump.append(max(jumps))
        start.append(low)
    return ReceptiveField((size[0], size[1]), (jump[0], jump[1]), (start[0], start[1]), notes)


def _op_name(func) -> str:
    return f"aten.{func.overloadpacket.__name__}"


class ReceptiveFieldMode(TorchDispatchMode):
    """Dispatch mode that follows receptive fields through a (meta-device) forward pass,
    and counts its FLOPs.

    FLOPs are counted here, not by a ``FlopCounterMode`` stacked below, because this mode
    already sees every aten op: each op in ``torch.utils.flop_counter.flop_registry`` is
    counted with FlopCounterMode's own formula, the same count without its per-module
    tracking hooks and its second dispatch layer.
    """

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # No wrapper that keeps torch.compile out of each dispatch (3,600 of them on a
        # DenseNet): this mode never runs under torch.compile.
        return False

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0
        self._fields: dict[int, ReceptiveField | None] = {}
        # Keep every tensor with an entry alive so that ids are never reused within one pass;
        # on the meta device these hold no storage.
        self._alive: list[torch.Tensor] = []
        self._pooled: set[int] = set()  # tensors made by global pooling
        self._input_hw: tuple[int, int] = (1, 1)
        self.final: list[ReceptiveField] = []

    def mark_input(self, tensor: torch.Tensor) -> None:
        """Declare ``tensor`` as the network input: field 1, jump 1, starting at pixel 0."""
        self._input_hw = (int(tensor.shape[-2]), int(tensor.shape[-1])) if tensor.dim() >= 2 else (1, 1)
        self._set(tensor, INPUT_FIELD)

    def field(self, tensor: object) -> ReceptiveField | None:
        """The field of a tensor produced in the pass (``None`` if not spatial or unknown)."""
        if isinstance(tensor, (tuple, list)) and tensor:
            tensor = tensor[0]
        if hasattr(tensor, "logits"):  # GoogLeNet's training-mode output tuple
            tensor = tensor.logits
        return self._fields.get(id(tensor)) if isinstance(tensor, torch.Tensor) else None

    def _set(self, tensor: torch.Tensor, field: ReceptiveField | None) -> None:
        self._alive.append(tensor)
        self._fields[id(tensor)] = field

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = _shape_only(func, args, kwargs)  # this mode is off while it runs: no re-entry
        if out is None:
            out = meta_shortcuts.output(func, args, kwargs)
        formula = flop_registry.get(func.overloadpacket)
        if formula is not None:
            self.flops += _flops(formula, args, kwargs, out)
        outputs = out if isinstance(out, (tuple, list)) else (out,)
        inputs = [(t, f) for t in _tensors(args) if (f := self._fields.get(id(t))) is not None]
        result = next((t for t in outputs if isinstance(t, torch.Tensor)), None)
        field = self._output_field(func, args, kwargs, inputs, result) if inputs and result is not None else None
        for tensor in outputs:
            if isinstance(tensor, torch.Tensor):
                value = field if _is_spatial(tensor) else None
                if value is not None or id(tensor) in self._fields:  # no entry reads as no field
                    self._set(tensor, value)
        return out

    def _output_field(self, func, args, kwargs, inputs, result: torch.Tensor) -> ReceptiveField | None:
        source, field = inputs[0]
        if not _is_spatial(result):
            # The spatial axes are gone (flatten, a mean over H and W): if this is where the
            # feature map ends, its field is the network's (unless global pooling recorded it).
            if _is_spatial(source) and id(source) not in self._pooled:
                self.final.append(field)
            return None
        whole = next((f for _, f in inputs if f.whole), None)
        if whole is not None:  # past an op that mixed all positions, every unit sees everything
            return whole
        if func in _CONV:
            return self._convolution(func, args, kwargs, field)
        if func in _POOL:
            bound = _arguments(func, args, kwargs)
            kernel = _pair(bound["kernel_size"], 1)
            stride = _pair(bound["stride"], 0)
            return _window(
                field,
                kernel,
                stride if stride != (0, 0) else kernel,
                _pair(bound["padding"], 0),
                _pair(bound.get("dilation"), 1),
            )
        if func in _ADAPTIVE_POOL or func in _REDUCE:
            return self._whole_windows(func, args, kwargs, source, field, result)
        if func in _PAD:
            return self._padded(func, args, kwargs, field)
        if func is aten.slice.Tensor:
            return self._sliced(func, args, kwargs, source, field)
        fields = [f for _, f in inputs]
        if func is aten.cat.default:
            dim = _arguments(func, args, kwargs)["dim"] % result.dim()
            merged = _union(fields, "a concatenation")
            along_space = dim >= result.dim() - 2
            return _approximate(merged, "a concatenation along H or W is not modelled") if along_space else merged
        same_map = all(t.shape[-2:] == result.shape[-2:] for t, _ in inputs if _is_spatial(t))
        if func in _RESHAPE:
            if _is_spatial(source) and source.shape[-2:] == result.shape[-2:]:
                return _union(fields, _op_name(func))
            return _approximate(_union(fields, _op_name(func)), f"{_op_name(func)} reshapes the spatial axes")
        if (torch.Tag.pointwise in func.tags or func in _POSITIONWISE) and same_map:
            return _union(fields, "an addition" if func.overloadpacket in (aten.add, aten.add_) else _op_name(func))
        return self._unknown(func, source, _union(fields, _op_name(func)), result)

    def _convolution(self, func, args, kwargs, field: ReceptiveField) -> ReceptiveField:
        bound = _arguments(func, args, kwargs)
        kernel = _pair(tuple(bound["weight"].shape[2:]), 1)
        window = _window(
            field, kernel, _pair(bound["stride"], 1), _pair(bound["padding"], 0), _pair(bound["dilation"], 1)
        )
        return _approximate(window, "a transposed convolution is not modelled") if bound["transposed"] else window

    def _whole_windows(self, func, args, kwargs, source, field, result) -> ReceptiveField:
        """Adaptive pooling and reductions: windows that tile each axis (the whole axis for
        global pooling); uneven windows are approximate."""
        sizes_in, sizes_out = tuple(source.shape[-2:]), tuple(result.shape[-2:])
        if func in _REDUCE:
            bound = _arguments(func, args, kwargs)
            dims = bound.get("dim") or list(range(source.dim()))
            reduced = {d % source.dim() - (source.dim() - 2) for d in ([dims] if isinstance(dims, int) else dims)}
            sizes_out = tuple(1 if axis in reduced else n for axis, n in enumerate(sizes_in))
        kernel, stride, note = [], [], None
        for n_in, n_out in zip(sizes_in, sizes_out):
            if n_in % n_out == 0:
                kernel.append(n_in // n_out)
                stride.append(n_in // n_out)
                continue
            # Window i covers floor(i * in / out) to ceil((i + 1) * in / out): not all alike.
            kernel.append(max(-(-(i + 1) * n_in // n_out) - i * n_in // n_out for i in range(n_out)))
            stride.append(max(1, n_in // n_out))
            what = "repeats units" if n_out > n_in else "has uneven windows"
            note = f"adaptive pooling {units.dims(sizes_in)} to {units.dims(sizes_out)} {what}"
        pooled = _window(field, (kernel[0], kernel[1]), (stride[0], stride[1]), note=note)
        if all(n == 1 for n in sizes_out):  # global pooling: the feature map ends here
            self.final.append(field)
            self._pooled.add(id(result))
            return ReceptiveField(self._input_hw, (1, 1), (0, 0), field.approximations, whole=True)
        return pooled

    def _padded(self, func, args, kwargs, field: ReceptiveField) -> ReceptiveField:
        pad = list(_arguments(func, args, kwargs).get("pad") or _arguments(func, args, kwargs).get("padding"))
        before_w = pad[0] if len(pad) > 0 else 0
        before_h = pad[2] if len(pad) > 2 else 0
        start = (field.start[0] - before_h * field.jump[0], field.start[1] - before_w * field.jump[1])
        return ReceptiveField(field.size, field.jump, start, field.approximations)

    def _sliced(self, func, args, kwargs, source: torch.Tensor, field: ReceptiveField) -> ReceptiveField:
        bound = _arguments(func, args, kwargs)
        axis = bound["dim"] % source.dim() - (source.dim() - 2)
        if axis < 0:
            return field
        length = source.shape[source.dim() - 2 + axis]
        first = bound["start"] or 0
        first = min(max(first + length if first < 0 else first, 0), length)
        step = bound["step"] or 1
        start, jump = list(field.start), list(field.jump)
        start[axis] += first * jump[axis]
        jump[axis] *= step
        return ReceptiveField(field.size, (jump[0], jump[1]), (start[0], start[1]), field.approximations)

    def _unknown(self, func, source, merged: ReceptiveField, result: torch.Tensor) -> ReceptiveField:
        """An op this tracker does not model: its inputs' field, grown like a pooling window
        if it shrinks the map, marked approximate."""
        note = f"{_op_name(func)} is not modelled"
        if _is_spatial(source):
            sizes_in, sizes_out = source.shape[-2:], result.shape[-2:]
            if any(o < i for i, o in zip(sizes_in, sizes_out)) and all(o > 0 for o in sizes_out):
                kernel = tuple(math.ceil(i / o) for i, o in zip(sizes_in, sizes_out))
                stride = tuple(max(1, i // o) for i, o in zip(sizes_in, sizes_out))
                return _window(merged, kernel, stride, note=note)  # type: ignore[arg-type]
        return _approximate(merged, note)


def _approximate(field: ReceptiveField, note: str) -> ReceptiveField:
    return ReceptiveField(field.size, field.jump, field.start, _with(field.approximations, note))
