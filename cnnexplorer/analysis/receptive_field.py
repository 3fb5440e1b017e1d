"""Receptive field of every tensor of a forward pass, per spatial axis, followed op by op.

A :class:`ReceptiveFieldMode` sits under the forward pass as a torch dispatch mode and
sees every aten operation, including those a model calls outside any module (the
residual ``+``, DenseNet's ``torch.cat``, ``x[:, :, ::2, ::2]``, ``torch.flatten``). For
each output tensor that holds the map's positions it records a
:class:`~cnnexplorer.analysis.results.ReceptiveField`: per axis (height, width), the field
size, the jump and where unit 0's field starts.

Which tensor axes hold the positions is followed, not assumed: the input's last two axes
are the height and width, and each op moves them. An axis holds runs (outermost first):
the height or the width at some step, a token grid with class tokens beside it, or batch
and channels. ``permute`` and ``transpose`` move runs; ``view`` and ``reshape`` split and
merge them (a Swin window partition is height = windows x rows in a window; ViT's
``flatten(2)`` merges height and width into one token axis; ``cat`` of a class token
along that axis puts a token beside the grid).

Exact:

- convolution (grouped and depthwise alike) and pooling of kernel k, stride s, padding p,
  dilation d over the axes that hold the height and width:
  ``size += (k - 1) * d * jump``, ``start -= p * jump``, ``jump *= s``;
- slicing an axis from ``a`` in steps of ``m``: ``start += a * jump``, ``jump *= m``;
  padding an axis by ``p`` before it: ``start -= p * jump``;
- adaptive pooling whose windows tile the map evenly (``in % out == 0``) is a pooling
  window of ``in / out``;
- ops that act on each position alone take the union of their inputs' intervals, whatever
  the paths' offsets: activations, batch norm, dropout, the residual addition,
  concatenation along the channels, layer norm and linear layers over the channels (as in
  ConvNeXt's and Swin's channels-last blocks), views and permutes.

Global (``whole``: every unit sees the whole input, exact whatever came before): an op that
combines every position of the map. Global pooling and means over the map (and whatever
multiplies them back: squeeze-excitation); softmax over all tokens and the products of
attention that sum over them (ViT; a Swin stage whose window covers its map); fused
attention; group norm.

Approximate, and says so:

- window attention (a softmax or product over the positions of a window, not the map): a
  unit sees its own window, not a sliding one; it is modelled as a sliding window of the
  window's size, once per attention (right for one window block, smaller than the truth
  once shifted windows follow);
- positions spread over the map (MaxViT's grid attention): modelled as a window of their span;
- ``roll`` (Swin's shifted windows) shifts positions cyclically: the field is kept;
- an op this tracker does not model (its inputs' field, grown like a pooling window if it
  shrinks the map), adaptive pooling with uneven windows, paths with different jumps
  meeting at a merge, a concatenation along the height or width.

Once no axis holds a position (a mean over the map, the class token picked, a linear
layer over a flattened map) a tensor has no field (``None``). :attr:`ReceptiveFieldMode.final`
lists, in order, the fields of the feature maps that global pooling or such an op
consumed: the last one is the network's headline field.

This module holds the mode and its op handlers; the algebra of fields and positions they
apply is :mod:`cnnexplorer.analysis.field_algebra`, and the FLOP count the mode keeps on the
way is :mod:`cnnexplorer.analysis.flop_formulas`.
"""

from __future__ import annotations

import functools
import math

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from cnnexplorer import units
from cnnexplorer.analysis import meta_shortcuts
from cnnexplorer.analysis.field_algebra import (
    BATCH,
    INPUT_FIELD,
    TOKENS,
    H,
    Positions,
    Run,
    W,
    approximate,
    axis_size,
    channel_runs,
    fitted,
    grid_count,
    grid_runs,
    has_positions,
    mixed_runs,
    plain_run,
    regroup,
    run_extent,
    sliding_window,
    token_run,
    union,
    whole_input,
    with_note,
)
from cnnexplorer.analysis.flop_formulas import op_flops
from cnnexplorer.analysis.meta_shortcuts import ints_alone, per_axis, tensor_arguments
from cnnexplorer.analysis.results import ReceptiveField

aten = torch.ops.aten


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


_REDUCE = {
    aten.mean.dim,
    aten.sum.dim_IntList,
    aten.amax.default,
    aten.amin.default,
    aten.var.correction,
    aten.std.correction,
    aten.linalg_vector_norm.default,
    aten.max.dim,
    aten.min.dim,
    aten.logsumexp.default,
}


_PAD = {
    aten.constant_pad_nd.default,
    aten.reflection_pad1d.default,
    aten.reflection_pad2d.default,
    aten.reflection_pad3d.default,
    aten.replication_pad1d.default,
    aten.replication_pad2d.default,
    aten.replication_pad3d.default,
}


# Each unit depends on every entry along the axes these normalize over.
_NORMALIZING = {
    aten._softmax.default,
    aten._safe_softmax.default,
    aten._log_softmax.default,
    aten.native_layer_norm.default,
    aten.native_group_norm.default,
}


_PRODUCTS = {aten.mm.default, aten.addmm.default, aten.bmm.default, aten.baddbmm.default}


_ATTENTION = {
    aten._scaled_dot_product_flash_attention_for_cpu.default,
    aten._scaled_dot_product_efficient_attention.default,
    aten._scaled_dot_product_flash_attention.default,
    aten._scaled_dot_product_cudnn_attention.default,
    aten._native_multi_head_attention.default,
}


# New tensors whose values do not depend on the input's (Swin's attention mask).
_FRESH = {
    aten.new_zeros.default,
    aten.new_empty.default,
    aten.new_ones.default,
    aten.new_full.default,
    aten.new_empty_strided.default,
}


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
    aten.hardswish.default,
    aten.hardswish_.default,
    aten.masked_fill.Tensor,
    aten.where.self,
    aten.where.ScalarOther,
    aten.where.ScalarSelf,
}


# Views whose result reads the input's entries in order (row-major): a regrouping of its runs.
_REGROUP = {
    aten.view.default,
    aten._unsafe_view.default,
    aten.reshape.default,
    aten.unsqueeze.default,
    aten.squeeze.dim,
    aten.squeeze.dims,
    aten.squeeze.default,
}


# Ops that move entries around without combining them.
_REARRANGE = _REGROUP | {
    aten.expand.default,
    aten.permute.default,
    aten.transpose.int,
    aten.t.default,
    aten.select.int,
    aten.unbind.int,
    aten.split.Tensor,
    aten.split_with_sizes.default,
    aten.narrow.default,
    aten.slice.Tensor,
    aten.roll.default,
}


_JOIN = {aten.cat.default, aten.stack.default}


@functools.cache
def _kind(func) -> object:
    """The set of ops ``func`` belongs to (each op once: one hash of it instead of one per set);
    ``_POSITIONWISE`` for every op tagged pointwise too."""
    for kind in (_CONV, _POOL, _ADAPTIVE_POOL, _REDUCE, _NORMALIZING, _PRODUCTS, _ATTENTION, _PAD, _REARRANGE, _JOIN):
        if func in kind:
            return kind
    if func in _FRESH:
        return _FRESH
    if torch.Tag.pointwise in func.tags or func in _POSITIONWISE:
        return _POSITIONWISE
    return None


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


def _op_name(func) -> str:
    return f"aten.{func.overloadpacket.__name__}"


def _dims_of(tensor: torch.Tensor, positions: Positions | None) -> tuple[tuple[Run, ...], ...]:
    """A tensor's axis runs; those of an untracked tensor are channels."""
    return positions.dims if positions is not None else tuple(channel_runs(n) for n in tensor.shape)


def _per_dim(value: object, count: int, default: int) -> list[int] | None:
    """A kernel, stride, padding or dilation argument, one int per axis it covers."""
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return [default] * count
    return per_axis(value, count)


def _dim_list(value: object, ndim: int) -> list[int]:
    """A dim argument (an int, a list, or none for all axes) as axis indices."""
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return list(range(ndim))
    return sorted({d % ndim for d in ([value] if isinstance(value, int) else value)})  # type: ignore[union-attr]


def _same(outputs: tuple | list, field: ReceptiveField, positions: Positions) -> list:
    """``(field, positions)`` for each output shaped like the first (the others: None)."""
    shape = outputs[0].shape
    return [(field, positions) if isinstance(t, torch.Tensor) and t.shape == shape else None for t in outputs]


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

    def __init__(self, shortcuts: meta_shortcuts.MetaShortcuts | None = None) -> None:
        super().__init__()
        # Its recipes live as long as this pass (or the analysis that hands them on).
        self.shortcuts = shortcuts or meta_shortcuts.MetaShortcuts()
        self.flops = 0
        self.observer = None  # called as observer(func, args, out, flops) after each op
        self._fields: dict[int, ReceptiveField | None] = {}
        self._positions: dict[int, Positions | None] = {}  # where each tracked tensor keeps the map
        # Keep every tensor with an entry alive so that ids are never reused within one pass;
        # on the meta device these hold no storage.
        self._alive: list[torch.Tensor] = []
        self._pooled: set[int] = set()  # tensors made by global pooling
        self._input_hw: tuple[int, int] = (1, 1)
        self.final: list[ReceptiveField] = []
        # One object per distinct positions, so that an id names them; the outcomes of ops past
        # a global mix, by what they depend on (see _outcomes).
        self._interned: dict[Positions, Positions] = {}
        self._past_whole: dict[tuple, list] = {}

    def mark_input(self, tensor: torch.Tensor) -> None:
        """Declare ``tensor`` as the network input: field 1, jump 1, starting at pixel 0."""
        self._input_hw = (int(tensor.shape[-2]), int(tensor.shape[-1])) if tensor.dim() >= 2 else (1, 1)
        positions = None
        if tensor.dim() >= 4:  # (N, C, ..., H, W)
            h, w = self._input_hw
            middle = tuple(channel_runs(n) for n in tensor.shape[1:-2])
            positions = Positions(((Run(BATCH, tensor.shape[0]),), *middle, (Run(H, h),), (Run(W, w),)), (h, w))
        self._set(tensor, INPUT_FIELD, positions)

    def field(self, tensor: object) -> ReceptiveField | None:
        """The field of a tensor produced in the pass (``None`` if not spatial or unknown)."""
        if isinstance(tensor, (tuple, list)) and tensor:
            tensor = tensor[0]
        if not isinstance(tensor, torch.Tensor):
            tensor = getattr(tensor, "logits", None)  # GoogLeNet's training-mode outputs
        return self._fields.get(id(tensor)) if isinstance(tensor, torch.Tensor) else None

    def _set(self, tensor: torch.Tensor, field: ReceptiveField | None, positions: Positions | None) -> None:
        self._alive.append(tensor)
        self._fields[id(tensor)] = field
        self._positions[id(tensor)] = positions

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = self.shortcuts.output(func, args, kwargs)  # this mode is off while it runs: no re-entry
        flops = op_flops(func, args, kwargs, out)
        self.flops += flops
        self._follow(func, args, kwargs, out)
        if self.observer is not None:
            self.observer(func, args, out, flops)
        return out

    def _follow(self, func, args, kwargs, out: object) -> None:
        """Record the field and the positions of each tensor an op returns."""
        outputs = out if isinstance(out, (tuple, list)) else (out,)
        inputs = [t for t in tensor_arguments(args) if self._positions.get(id(t)) is not None]
        if not inputs or _kind(func) is _FRESH:
            for tensor in outputs:  # no field; an entry left from an earlier tensor with this id goes
                if isinstance(tensor, torch.Tensor) and id(tensor) in self._fields:
                    self._set(tensor, None, None)
            return
        fields = [self._fields[id(t)] for t in inputs]
        whole = next((f for f in fields if f.whole), None)
        pooled = all(id(t) in self._pooled for t in inputs)
        kept = False
        for tensor, (field, positions) in zip(outputs, self._outcomes(func, args, kwargs, inputs, outputs, whole)):
            if field is not None:
                kept = True
                field = whole if whole is not None else field  # past an op that mixed all positions
                if pooled:
                    self._pooled.add(id(tensor))
            if field is not None or id(tensor) in self._fields:  # no entry reads as no field
                self._set(tensor, field, positions)
        if not kept and id(inputs[0]) not in self._pooled:
            # The positions are gone (flatten, a mean over H and W, the class token picked):
            # if this is where the feature map ends, its field is the network's.
            self.final.append(fields[0])

    def _outcomes(self, func, args, kwargs, inputs, outputs, whole) -> list:
        """Per output, its field (None: no positions, or not a tensor) and its positions.

        Past an op that mixed all positions (``whole``: a squeeze-excitation, most of an
        EfficientNet) every output's field is the whole input whatever the op does, so its
        outcomes hang on its arguments (shapes and values) and its tensors' positions alone;
        those repeat block after block, and the outcomes are kept. Not for pooling and
        reductions, which mark where the feature map ends. A shortcut of the pass: off with
        the meta shortcuts.
        """
        if whole is None or not self.shortcuts.enabled or _kind(func) in (_ADAPTIVE_POOL, _REDUCE):
            return self._fitted_results(func, args, kwargs, inputs, outputs)
        key = (func, self._brief(args), self._brief(tuple(kwargs.items())))
        try:
            found = self._past_whole.get(key)
        except TypeError:  # an argument that cannot be a key
            return self._fitted_results(func, args, kwargs, inputs, outputs)
        if found is None:
            found = self._past_whole[key] = self._fitted_results(func, args, kwargs, inputs, outputs)
        return found

    def _fitted_results(self, func, args, kwargs, inputs, outputs) -> list:
        """:meth:`_results` fitted to each output tensor, its positions interned (ids name them)."""
        found = []
        results = self._results(func, args, kwargs, inputs, outputs)
        for index, tensor in enumerate(outputs):
            result = results[index] if index < len(results) and isinstance(tensor, torch.Tensor) else None
            field, positions = result if result is not None else (None, None)
            positions = fitted(positions, tensor.shape) if positions is not None else None
            if positions is not None:
                positions = self._interned.setdefault(positions, positions)
            found.append((field if has_positions(positions) else None, positions))
        return found

    def _brief(self, values: tuple | list) -> tuple:
        """What the tracker reads of an op's arguments: a tensor's shape, its positions
        (interned: by id) and whether its field is whole; lists item by item (sizes as they
        are); anything else by type and value."""
        brief = []
        for value in values:
            if isinstance(value, torch.Tensor):
                positions = self._positions.get(id(value))
                tracked = positions is not None
                brief.append((value.shape, id(positions), self._fields[id(value)].whole) if tracked else value.shape)
            elif isinstance(value, (list, tuple)):
                brief.append(tuple(value) if ints_alone(value) else self._brief(value))
            else:
                brief.append((type(value), value))
        return tuple(brief)

    def _results(self, func, args, kwargs, inputs, outputs) -> list:
        """Per output, its field and positions (None: no positions)."""
        source = inputs[0]
        field, positions = self._fields[id(source)], self._positions[id(source)]
        op = _op_name(func)
        try:
            found = self._modelled(func, args, kwargs, inputs, outputs, source, field, positions)
        except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
            found = None  # an argument this tracker did not expect: an op it does not model
        if found is None:
            merged = union([self._fields[id(t)] for t in inputs], op)
            found = self._unknown(func, source, positions, merged, outputs)
        return found

    def _modelled(self, func, args, kwargs, inputs, outputs, source, field, positions) -> list | None:
        """The results of an op this tracker models; None for any other."""
        kind = _kind(func)
        if kind is _CONV:
            return self._convolution(func, args, kwargs, field, positions, outputs)
        if kind is _POOL:
            return self._pooling(func, args, kwargs, field, positions, outputs)
        if kind is _ADAPTIVE_POOL:
            return self._adaptive(func, args, kwargs, source, field, positions, outputs)
        if kind is _REDUCE:
            return self._reduction(func, args, kwargs, source, field, positions, outputs)
        if kind is _NORMALIZING:
            return self._normalizing(func, args, kwargs, source, field, positions, outputs)
        if kind is _PRODUCTS:
            return self._product(func, args, outputs)
        if kind is _ATTENTION:
            return self._attention(args, outputs)
        if kind is _PAD:
            return self._padded(func, args, kwargs, field, positions, outputs)
        if kind is _REARRANGE:
            return self._rearranged(func, args, kwargs, source, field, positions, outputs)
        if kind is _JOIN:
            return self._joined(func, args, kwargs, outputs)
        if kind is _POSITIONWISE:
            return self._pointwise(func, inputs, outputs)
        return None

    def _convolution(self, func, args, kwargs, field, positions, outputs) -> list | None:
        bound = _arguments(func, args, kwargs)
        spatial = bound["weight"].dim() - 2
        defaults = (("stride", 1), ("padding", 0), ("dilation", 1))
        per = [_per_dim(bound[name], spatial, default) for name, default in defaults]
        if None in per:
            return None
        note = "a transposed convolution is not modelled" if bound["transposed"] else None
        return self._sliding(field, positions, outputs, list(bound["weight"].shape[2:]), *per, note=note)  # type: ignore[misc]

    def _pooling(self, func, args, kwargs, field, positions, outputs) -> list | None:
        bound = _arguments(func, args, kwargs)
        count = 3 if func.overloadpacket.__name__.endswith(("3d", "3d_with_indices")) else 2
        kernel = _per_dim(bound["kernel_size"], count, 1)
        stride = _per_dim(bound["stride"], count, 0)
        padding = _per_dim(bound["padding"], count, 0)
        dilation = _per_dim(bound.get("dilation"), count, 1)
        if kernel is None or stride is None or padding is None or dilation is None:
            return None
        stride = kernel if not any(stride) else stride
        return self._sliding(field, positions, outputs, kernel, stride, padding, dilation)

    def _sliding(self, field, positions, outputs, kernel, stride, padding, dilation, note=None) -> list | None:
        """A window sliding over the last ``len(kernel)`` axes: each that holds a height or
        width run grows that axis's field; others (a video's time) hold no positions."""
        result = outputs[0]
        first = result.dim() - len(kernel)
        k, s, p, d = [1, 1], [1, 1], [0, 0], [1, 1]
        dims, grid = list(positions.dims), list(positions.grid)
        for i in range(len(kernel)):
            dim, size = positions.dims[first + i], result.shape[first + i]
            run = plain_run(dim)
            if run is None:
                if grid_runs(dim):
                    return None  # positions merged into one axis: not a window of the map
                dims[first + i] = channel_runs(size)
                continue
            k[run.axis], s[run.axis], p[run.axis], d[run.axis] = kernel[i], stride[i], padding[i], dilation[i]
            dims[first + i] = (run._replace(count=size),)
            grid[run.axis] = size
        window = sliding_window(field, (k[0], k[1]), (s[0], s[1]), (p[0], p[1]), (d[0], d[1]), note)
        return _same(outputs, window, positions.but(dims, grid, frozenset()))

    def _adaptive(self, func, args, kwargs, source, field, positions, outputs) -> list | None:
        """Adaptive pooling: windows that tile each axis (the whole axis for global pooling);
        uneven windows are approximate."""
        result = outputs[0]
        pooled = len(_arguments(func, args, kwargs)["output_size"])
        first = result.dim() - pooled
        kernel, stride, sizes_in, sizes_out = [1, 1], [1, 1], [], []
        dims, grid = list(positions.dims), list(positions.grid)
        for i in range(first, result.dim()):
            run, n_in, n_out = plain_run(positions.dims[i]), source.shape[i], result.shape[i]
            if run is None:
                if grid_runs(positions.dims[i]):
                    return None
                dims[i] = channel_runs(n_out)
                continue
            if n_in % n_out == 0:
                kernel[run.axis] = stride[run.axis] = n_in // n_out
            else:
                # Window i covers floor(i * in / out) to ceil((i + 1) * in / out): not all alike.
                kernel[run.axis] = max(-(-(j + 1) * n_in // n_out) - j * n_in // n_out for j in range(n_out))
                stride[run.axis] = max(1, n_in // n_out)
            sizes_in.append(n_in)
            sizes_out.append(n_out)
            dims[i] = (run._replace(count=n_out),)
            grid[run.axis] = n_out
        uneven = [i for i, (n_in, n_out) in enumerate(zip(sizes_in, sizes_out)) if n_in % n_out]
        note = None
        if uneven:
            what = "repeats units" if any(sizes_out[i] > sizes_in[i] for i in uneven) else "has uneven windows"
            note = f"adaptive pooling {units.dims(tuple(sizes_in))} to {units.dims(tuple(sizes_out))} {what}"
        after = positions.but(dims, grid, frozenset())
        if sizes_out and grid == [1, 1]:  # global pooling: the feature map ends here
            return self._pooled_globally(field, result, outputs, after)
        return _same(outputs, sliding_window(field, (kernel[0], kernel[1]), (stride[0], stride[1]), note=note), after)

    def _pooled_globally(self, field, result, outputs, positions) -> list:
        self.final.append(field)
        self._pooled.add(id(result))
        return _same(outputs, whole_input(field, self._input_hw), positions)

    def _reduction(self, func, args, kwargs, source, field, positions, outputs) -> list:
        """A mean, sum, maximum or norm over some axes: the positions those axes hold are mixed
        (all of them: global pooling) and leave (or stay as one, with ``keepdim``)."""
        bound = _arguments(func, args, kwargs)
        reduced = _dim_list(bound.get("dim"), source.dim())
        keep = bool(bound.get("keepdim"))
        mixed = mixed_runs(positions, reduced)
        grown, windows = self._mix(field, positions, reduced, _op_name(func), collapse=True)
        dims = []
        for i, dim in enumerate(positions.dims):
            if i not in reduced:
                dims.append(dim)
            elif keep:
                dims.append(tuple(Run(axis, 1) for axis in (H, W) if any(r in mixed[axis] for r in grid_runs(dim))))
        grid = [1 if mixed[axis] else positions.grid[axis] for axis in (H, W)]
        after = positions.but(dims, grid, windows)
        if grown.whole and not field.whole:
            return self._pooled_globally(field, outputs[0], outputs, after)
        return _same(outputs, grown, after)

    def _normalizing(self, func, args, kwargs, source, field, positions, outputs) -> list:
        """Softmax and normalization layers: each unit depends on every entry of the axes the
        op normalizes over (layer norm: the last ones; group norm: the map)."""
        bound = _arguments(func, args, kwargs)
        if func is aten.native_layer_norm.default:
            dims = list(range(source.dim() - len(bound["normalized_shape"]), source.dim()))
        elif func is aten.native_group_norm.default:
            dims = list(range(2, source.dim()))
        else:
            dims = [bound["dim"] % source.dim()]
        grown, windows = self._mix(field, positions, dims, _op_name(func))
        return [(grown, positions.but(windows=windows))] + [None] * (len(outputs) - 1)

    def _mix(self, field, positions, dims, op, collapse=False) -> tuple[ReceptiveField, frozenset]:
        """A unit's field once an op combined every entry along the axes ``dims``: the field
        spans the positions those axes hold (``whole`` where they are all the map's)."""
        runs = mixed_runs(positions, dims)
        if field.whole or not (runs[H] or runs[W]):
            return field, positions.windows
        full = {a: bool(runs[a]) and math.prod(r.count for r in runs[a]) >= positions.grid[a] for a in (H, W)}
        if all(full[a] or positions.grid[a] <= 1 for a in (H, W)):
            return whole_input(field, self._input_hw), positions.windows
        size, spans, kinds, windows = list(field.size), [1, 1], set(), set(positions.windows)
        for a in (H, W):
            if not runs[a]:
                continue
            extent, block = (positions.grid[a], True) if full[a] else run_extent(runs[a])
            if (a, extent) in windows:
                continue  # the field already spans this window (attention's second product)
            if not full[a]:
                windows.add((a, extent))
            size[a] += (extent - 1) * field.jump[a]
            spans[a] = extent
            kinds.add("axis" if full[a] else "window" if block else "grid")
        notes = field.approximations
        span = units.dims((spans[0], spans[1]))
        if "window" in kinds:
            notes = with_note(notes, f"mixing within {span} windows (window attention) is modelled as a sliding window")
        if "grid" in kinds:
            notes = with_note(notes, f"mixing positions spread over the map (grid attention) is modelled as {span}")
        if "axis" in kinds and not collapse:
            notes = with_note(notes, f"{op} mixes a whole axis: modelled as a window of that axis")
        return ReceptiveField((size[0], size[1]), field.jump, field.start, notes), frozenset(windows)

    def _product(self, func, args, outputs) -> list:
        """Matrix products (linear layers, attention): each operand's field mixed over the axis
        the product sums along; an output axis keeps its operand's runs."""
        batched = func in (aten.bmm.default, aten.baddbmm.default)
        a, b = args[-2], args[-1]
        if func in (aten.addmm.default, aten.baddbmm.default):
            a, b = args[1], args[2]
        dims_a, dims_b = self._dims(a), self._dims(b)
        if batched:
            lead = dims_a[0] if grid_runs(dims_a[0]) or not grid_runs(dims_b[0]) else dims_b[0]
            dims = (lead, dims_a[1], dims_b[2])
            operands = [(a, [2]), (b, [1])]
        else:
            dims = (dims_a[0], dims_b[1])
            operands = [(a, [1]), (b, [0])]
        if func in (aten.addmm.default, aten.baddbmm.default):
            operands.append((args[0], []))
        return self._combined(_op_name(func), operands, dims, outputs)

    def _attention(self, args, outputs) -> list:
        """Fused attention: every query sees the keys and values it attends to (all positions
        along their token axis)."""
        query, key, value = args[0], args[1], args[2]
        dims = (*self._dims(query)[:-1], channel_runs(value.shape[-1]))
        operands = [(query, [query.dim() - 1]), (key, [key.dim() - 2, key.dim() - 1]), (value, [value.dim() - 2])]
        return self._combined("attention", operands, dims, outputs)[:1] + [None] * (len(outputs) - 1)

    def _combined(self, op, operands, dims, outputs) -> list:
        """The union of the operands' fields, each mixed over its axes."""
        fields, windows, grid = [], [], None
        for tensor, mixed in operands:
            positions = self._positions.get(id(tensor)) if isinstance(tensor, torch.Tensor) else None
            if positions is None:
                continue
            field, spanned = self._mix(self._fields[id(tensor)], positions, mixed, op)
            fields.append(field)
            windows.append(spanned)
            grid = grid or positions.grid
        whole = next((f for f in fields if f.whole), None)
        field = whole if whole is not None else union(fields, op)
        return _same(outputs, field, Positions(tuple(dims), grid, frozenset.intersection(*windows)))

    def _dims(self, tensor: object) -> tuple[tuple[Run, ...], ...]:
        return _dims_of(tensor, self._positions.get(id(tensor)))  # type: ignore[arg-type]

    def _pointwise(self, func, inputs, outputs) -> list:
        """Ops on each position alone (activations, batch norm, the residual addition): the
        union of the inputs' fields; an axis broadcast keeps the runs of the input that fills it."""
        result = outputs[0]
        if len(inputs) == 1 and inputs[0].shape == result.shape:  # an activation: the common case
            return _same(outputs, self._fields[id(inputs[0])], self._positions[id(inputs[0])])
        op = "an addition" if func.overloadpacket in (aten.add, aten.add_) else _op_name(func)
        field = union([self._fields[id(t)] for t in inputs], op)
        tracked = [(t, self._positions[id(t)]) for t in inputs]
        windows = frozenset.intersection(*(p.windows for _, p in tracked))
        first = tracked[0][1]
        if all(t.shape == result.shape for t in inputs):
            return _same(outputs, field, first.but(windows=windows))
        dims = []
        for j, size in enumerate(result.shape):
            found = []
            for tensor, positions in tracked:
                i = j - (result.dim() - tensor.dim())
                if i >= 0 and tensor.shape[i] == size:
                    found.append(positions.dims[i])
                elif i >= 0 and grid_runs(positions.dims[i]) and not self._fields[id(tensor)].whole:
                    field = approximate(field, f"{op} broadcasts one position over the map")
            dims.append(next((d for d in found if grid_runs(d)), found[0] if found else channel_runs(size)))
        return _same(outputs, field, first.but(dims, windows=windows))

    def _rearranged(self, func, args, kwargs, source, field, positions, outputs) -> list | None:
        """Views and copies that move entries around without combining them."""
        result, op = outputs[0], _op_name(func)
        ndim = source.dim()
        if func in _REGROUP:
            dims = regroup(positions.dims, tuple(result.shape))
            return None if dims is None else _same(outputs, field, positions.but(dims))
        if func is aten.permute.default:
            return _same(outputs, field, positions.but([positions.dims[d % ndim] for d in args[1]]))
        if func in (aten.transpose.int, aten.t.default):
            first, second = (args[1] % ndim, args[2] % ndim) if func is aten.transpose.int else (0, ndim - 1)
            dims = list(positions.dims)
            dims[first], dims[second] = dims[second], dims[first]
            return _same(outputs, field, positions.but(dims))
        if func is aten.expand.default:
            lead = result.dim() - ndim
            dims = [channel_runs(n) for n in result.shape[:lead]]
            for i, dim in enumerate(positions.dims):
                dims.append(dim if source.shape[i] == result.shape[lead + i] else channel_runs(result.shape[lead + i]))
            return _same(outputs, field, positions.but(dims))
        bound = _arguments(func, args, kwargs)
        if func is aten.select.int:
            return [self._selected(op, field, positions, bound["dim"] % ndim, bound["index"], source)]
        if func is aten.unbind.int:
            d = bound["dim"] % ndim
            return [self._selected(op, field, positions, d, i, source) for i in range(len(outputs))]
        if func is aten.slice.Tensor:
            d = bound["dim"] % ndim
            first = bound["start"] or 0
            first = min(max(first + source.shape[d] if first < 0 else first, 0), source.shape[d])
            return _same(outputs, *self._sliced(op, field, positions, d, first, bound["step"] or 1, result.shape[d]))
        if func is aten.narrow.default:
            d = bound["dim"] % ndim
            first = bound["start"] % source.shape[d] if bound["start"] < 0 else bound["start"]
            return _same(outputs, *self._sliced(op, field, positions, d, first, 1, result.shape[d]))
        if func in (aten.split.Tensor, aten.split_with_sizes.default):
            d, offset, found = bound["dim"] % ndim, 0, []
            for part in outputs:
                found.append(self._sliced(op, field, positions, d, offset, 1, part.shape[d]))
                offset += part.shape[d]
            return found
        if func is aten.roll.default:
            rolled = _dim_list(bound["dims"], ndim) if bound["dims"] else list(range(ndim))
            axes = {run.axis for d in rolled for run in grid_runs(positions.dims[d])}
            if not axes:
                return _same(outputs, field, positions)
            windows = frozenset(w for w in positions.windows if w[0] not in axes)
            shifted = approximate(field, "aten.roll shifts positions cyclically (shifted windows)")
            return _same(outputs, shifted, positions.but(windows=windows))
        return None

    def _selected(self, op, field, positions, d, index, source) -> tuple | None:
        """One entry of an axis picked: a row or column of the map (the field moves to it), a
        class token, or a channel."""
        dim = positions.dims[d]
        dims = positions.dims[:d] + positions.dims[d + 1 :]
        index = index + source.shape[d] if index < 0 else index
        run = plain_run(dim)
        if run is not None:
            start, grid = list(field.start), list(positions.grid)
            start[run.axis] += index * field.jump[run.axis]
            grid[run.axis] = 1
            return ReceptiveField(field.size, field.jump, (start[0], start[1]), field.approximations), positions.but(
                dims, grid
            )
        tokens = dim[0] if len(dim) == 1 and dim[0].axis == TOKENS else None
        if tokens is not None and (index < tokens.before or index >= tokens.count - tokens.after):
            return field, positions.but(dims)  # a class token
        if grid_runs(dim):
            return approximate(field, f"{op} picks positions it cannot follow"), positions.but(dims)
        return field, positions.but(dims)

    def _sliced(self, op, field, positions, d, first, step, length) -> tuple:
        """Part of an axis: a map's rows or columns from ``first`` in steps of ``step``
        (``start += first * jump``, ``jump *= step``), or the grid of a token axis without its
        class tokens."""
        dim = positions.dims[d]
        if step == 1 and first == 0 and length == axis_size(dim):
            return field, positions
        dims = list(positions.dims)
        run = plain_run(dim)
        if run is not None:
            start, jump, grid = list(field.start), list(field.jump), list(positions.grid)
            start[run.axis] += first * jump[run.axis]
            jump[run.axis] *= step
            grid[run.axis] = length
            dims[d] = (run._replace(count=length),)
            windows = frozenset(w for w in positions.windows if w[0] != run.axis)
            moved = ReceptiveField(field.size, (jump[0], jump[1]), (start[0], start[1]), field.approximations)
            return moved, positions.but(dims, grid, windows)
        tokens = dim[0] if len(dim) == 1 and dim[0].axis == TOKENS else None
        if tokens is not None and step == 1 and first == tokens.before and length == grid_count(tokens):
            dims[d] = tokens.parts
            return field, positions.but(dims)
        dims[d] = channel_runs(length)
        if grid_runs(dim):
            return approximate(field, f"{op} cuts positions it cannot follow"), positions.but(dims)
        return field, positions.but(dims)

    def _padded(self, func, args, kwargs, field, positions, outputs) -> list | None:
        """Padding: ``p`` positions before an axis start the field ``p * jump`` earlier."""
        bound = _arguments(func, args, kwargs)
        pad = list(bound.get("pad") or bound.get("padding") or [])
        result = outputs[0]
        start, grid, dims = list(field.start), list(positions.grid), list(positions.dims)
        windows = set(positions.windows)
        for i in range(len(pad) // 2):
            d = result.dim() - 1 - i
            before, after = pad[2 * i], pad[2 * i + 1]
            if before == after == 0:
                continue
            run = plain_run(positions.dims[d])
            if run is None:
                if grid_runs(positions.dims[d]):
                    return None
                dims[d] = channel_runs(result.shape[d])
                continue
            start[run.axis] -= before * field.jump[run.axis]
            grid[run.axis] = result.shape[d]
            dims[d] = (run._replace(count=result.shape[d]),)
            if before:
                windows = {w for w in windows if w[0] != run.axis}
        moved = ReceptiveField(field.size, field.jump, (start[0], start[1]), field.approximations)
        return _same(outputs, moved, positions.but(dims, grid, frozenset(windows)))

    def _joined(self, func, args, kwargs, outputs) -> list:
        """Concatenation: along the channels the union of the fields (exact); along a token axis
        the class tokens join the grid; along the map's own axes, approximate."""
        result = outputs[0]
        tensors = [t for t in args[0] if t.dim() > 1 or t.numel() > 0]
        d = _arguments(func, args, kwargs)["dim"] % result.dim()
        tracked = [t for t in tensors if self._positions.get(id(t)) is not None]
        fields = [self._fields[id(t)] for t in tracked]
        base = self._positions[id(tracked[0])]
        windows = frozenset.intersection(*(self._positions[id(t)].windows for t in tracked))
        if func is aten.stack.default:
            dims = (*base.dims[:d], channel_runs(len(tensors)), *base.dims[d:])
            return _same(outputs, union(fields, "a stack"), base.but(dims, windows=windows))
        dims = list(base.dims)
        along = [t for t in tracked if grid_runs(self._positions[id(t)].dims[d])]
        merged = union(fields, "a concatenation")
        if not along:
            dims[d] = channel_runs(result.shape[d])
            return _same(outputs, merged, base.but(dims, windows=windows))
        if len(along) == 1:
            grid_tensor = along[0]
            position = next(i for i, t in enumerate(tensors) if t is grid_tensor)
            before = sum(t.shape[d] for t in tensors[:position])
            after = sum(t.shape[d] for t in tensors[position + 1 :])
            own = self._positions[id(grid_tensor)]
            dims = list(own.dims)
            dims[d] = (token_run(own.dims[d], before, after),)
            return _same(outputs, merged, own.but(dims, windows=windows))
        dims[d] = channel_runs(result.shape[d])
        return _same(outputs, approximate(merged, "a concatenation along H or W is not modelled"), base.but(dims))

    def _unknown(self, func, source, positions, merged: ReceptiveField, outputs) -> list:
        """An op this tracker does not model: its inputs' field, grown like a pooling window
        where it shrinks the map, marked approximate; the positions stay where the axes keep
        their sizes or are the map's own."""
        note = f"{_op_name(func)} is not modelled"
        result = outputs[0]
        if not isinstance(result, torch.Tensor) or result.dim() != source.dim():
            return [None] * len(outputs)
        dims, grid = list(positions.dims), list(positions.grid)
        kernel, stride = [1, 1], [1, 1]
        for i, dim in enumerate(positions.dims):
            n_in, n_out = source.shape[i], result.shape[i]
            if n_in == n_out:
                continue
            run = plain_run(dim)
            if run is None:
                dims[i] = channel_runs(n_out)
                continue
            dims[i] = (run._replace(count=n_out),)
            grid[run.axis] = n_out
            if 0 < n_out < n_in:
                kernel[run.axis], stride[run.axis] = math.ceil(n_in / n_out), max(1, n_in // n_out)
        if kernel != [1, 1]:
            grown = sliding_window(merged, (kernel[0], kernel[1]), (stride[0], stride[1]), note=note)
        else:
            grown = approximate(merged, note)
        return _same(outputs, grown, positions.but(dims, grid, frozenset()))
