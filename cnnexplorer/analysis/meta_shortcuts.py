"""Meta-kernel results without the meta kernel, for the analysis pass and the model's build.

On the meta device many aten kernels are Python decompositions (torch/_refs, torch/_prims):
broadcasting, type promotion and stride rules worked out in Python, 0.2-1 ms a call for
``native_layer_norm``, ``addmm``, ``gelu``, a reduction. :func:`output` answers an op in one
of three ways:

- by a rule, for the ops every network runs many times (convolution, batch norm,
  element-wise arithmetic, concatenation) or whose first call is slow (``addmm``, layer
  norm, GELU): the result's shape from the arguments' shapes, for plain inputs only (meta
  tensors of one dtype with the strides ``torch.empty`` gives, whose results are plain too);
- from a recipe: a network repeats its blocks, so an op meets arguments of the same
  signature again and again (each tensor's shape, strides, storage offset and dtype, every
  other argument by type and value), and on the meta device the result's metadata is a
  function of exactly that. The first call runs the kernel and keeps a recipe of its
  result; later calls re-make it. An op that returns new tensors gets ``torch.empty_strided``
  of each output's shape, strides and dtype, kept only where the re-made tensor equals the
  kernel's in all the pass reads: shape, strides, dtype, offset 0, storage size (the
  training-memory estimate counts storages) and a storage of its own (``_unsafe_view``'s
  result shares its input's: not re-made). An in-place op (it writes its first argument and
  returns it) gets that argument back, where the kernel returned it unchanged in shape and
  strides (``resize_`` is not re-made). Recipes live for one pass (a :class:`MetaShortcuts`
  each), so global state a kernel may read (the default dtype) cannot go stale;
- by the kernel: views, ``out=`` variants, a tensor argument off the meta device (its values
  may count), a first call.

With ``check`` set (the ``CNNEXPLORER_CHECK_META_SHORTCUTS`` environment variable) every
result made by a rule or a recipe is compared with the kernel's own: the oracle is torch's
meta kernel (tests/test_meta_shortcuts.py runs every model so). Private torch API used: none
beyond ``OpOverload._schema`` (the op's schema, to tell views and in-place ops apart),
``untyped_storage()._cdata`` (to tell storages apart, as the memory estimate does) and
``torch.utils._python_dispatch.TorchDispatchMode`` (:class:`MetaShortcutsMode`, for the
model's build, as the receptive-field mode is for the pass).
"""

from __future__ import annotations

import functools
import os

import torch
from torch.utils._python_dispatch import TorchDispatchMode

_FUNCTIONAL, _IN_PLACE = "functional", "in-place"
_NOT_REMADE = object()  # the recipe of a result that cannot be re-made: run the kernel
_UNKEYABLE = object()


class MetaShortcuts:
    """The shortcuts of one pass: its recipes, and how many results they re-made.

    ``enabled`` off: every op runs its kernel (the bench's baseline; the
    ``CNNEXPLORER_META_SHORTCUTS=0`` environment variable). ``check`` on: every result made
    by a rule or a recipe is compared with the kernel's (``CNNEXPLORER_CHECK_META_SHORTCUTS``).
    A new instance per pass, so that nothing a kernel read (the default dtype) goes stale.
    """

    def __init__(self, enabled: bool | None = None, check: bool | None = None) -> None:
        self.enabled = os.environ.get("CNNEXPLORER_META_SHORTCUTS", "1") != "0" if enabled is None else enabled
        self.check = bool(os.environ.get("CNNEXPLORER_CHECK_META_SHORTCUTS")) if check is None else check
        self.recipes: dict = {}
        self.hits = 0  # results re-made from a recipe

    def output(self, func, args: tuple, kwargs: dict) -> object:
        """``func(*args, **kwargs)``, by a rule, or re-made from a recipe where this pass has
        run the same op on the same signature already."""
        if not self.enabled:
            return func(*args, **kwargs)
        made = _by_rule(func, args, kwargs)
        if made is not None:
            if self.check:
                check_same(func, made, func(*args, **kwargs))
            return made
        kind = _kind(func)
        key = _key(func, args, kwargs) if kind is not None else _UNKEYABLE
        if key is _UNKEYABLE:
            return func(*args, **kwargs)
        recipe = self.recipes.get(key)
        if recipe is None:
            out = func(*args, **kwargs)
            self.recipes[key] = _recipe(kind, key, args, kwargs, out)
            return out
        if recipe is _NOT_REMADE:
            return func(*args, **kwargs)
        self.hits += 1
        made = args[0] if kind == _IN_PLACE else _make(recipe)
        if self.check:
            check_same(func, made, func(*args, **kwargs))
        return made


class MetaShortcutsMode(TorchDispatchMode):
    """Every aten op run inside it answered by :meth:`MetaShortcuts.output`: for building a
    model on the meta device, whose repeated blocks compute the same buffers in Python
    decompositions (Swin V2's relative-position tables: a quarter of its build)."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False  # never under torch.compile: no wrapper around each dispatch

    def __init__(self, shortcuts: MetaShortcuts | None = None) -> None:
        super().__init__()
        self.shortcuts = shortcuts or MetaShortcuts()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return self.shortcuts.output(func, args, kwargs or {})


@functools.cache
def _kind(func) -> str | None:
    """Whether an op's results can be re-made: one that returns new tensors (no alias in its
    schema), or one that writes its first argument alone and returns it; None for views,
    ``out=`` variants and anything else that aliases."""
    arguments, returns = func._schema.arguments, func._schema.returns
    aliased = [index for index, argument in enumerate(arguments) if argument.alias_info is not None]
    aliased_returns = [r for r in returns if r.alias_info is not None]
    if not aliased and not aliased_returns:
        return _FUNCTIONAL
    writes_first = aliased == [0] and arguments[0].alias_info.is_write
    if writes_first and len(returns) == 1 and aliased_returns and aliased_returns[0].alias_info.is_write:
        return _IN_PLACE
    return None


def _key(func, args: tuple, kwargs: dict) -> object:
    """The signature a meta kernel's result depends on; ``_UNKEYABLE`` where an argument is
    not understood (a tensor off the meta device: its values may count)."""
    try:
        return (func, _signature(args), _signature(tuple(kwargs.items())) if kwargs else ())
    except _Unkeyable:
        return _UNKEYABLE


def ints_alone(values: list | tuple) -> bool:
    """Whether a list holds ints alone (sizes, strides, axes), so that it can stand in a key as
    it is: one float or bool among them (``arange(0, 5, 1.0)``) makes another key."""
    return bool(values) and type(values[0]) is int and all(type(item) is int for item in values)


class _Unkeyable(Exception):
    pass


_PLAIN = (bool, int, float, str, type(None), torch.dtype, torch.device, torch.memory_format, torch.layout)


def _signature(value: object) -> object:
    if isinstance(value, torch.Tensor):
        if not value.is_meta or type(value) not in (torch.Tensor, torch.nn.Parameter):
            raise _Unkeyable
        return (value.shape, value.stride(), value.storage_offset(), value.dtype)
    if isinstance(value, (tuple, list)):
        if ints_alone(value):
            return (type(value), tuple(value))
        return (type(value), *(_signature(item) for item in value))
    if type(value) in _PLAIN:
        return (type(value), value)  # 1, 1.0 and True are equal as keys, not as arguments
    raise _Unkeyable


def _recipe(kind: str, key: tuple, args: tuple, kwargs: dict, out: object) -> object:
    """How to re-make ``out``, or ``_NOT_REMADE`` where a re-made one could differ."""
    if kind == _IN_PLACE:  # the same tensor back, its shape and strides as they were (not resize_)
        self = args[0]
        unchanged = isinstance(self, torch.Tensor) and out is self and _signature(self) == key[1][1]
        return True if unchanged else _NOT_REMADE
    outputs = out if isinstance(out, (tuple, list)) else (out,)
    if not outputs or any(not (t is None or type(t) is torch.Tensor) for t in outputs):
        return _NOT_REMADE
    specs = tuple(None if t is None else (t.shape, t.stride(), t.dtype) for t in outputs)
    recipe = (type(out) if isinstance(out, (tuple, list)) else None, specs)
    inputs = {t.untyped_storage()._cdata for t in tensor_arguments(args) + tensor_arguments(tuple(kwargs.values()))}
    storages = set()
    for tensor, made in zip(outputs, _made(recipe)):
        if tensor is None:
            continue
        storage = tensor.untyped_storage()._cdata
        if storage in inputs or storage in storages or _difference(made, tensor):
            return _NOT_REMADE
        storages.add(storage)
    return recipe


def _make(recipe) -> object:
    container, _ = recipe
    made = _made(recipe)
    return made[0] if container is None else container(made)


def _made(recipe) -> list:
    _, specs = recipe
    return [
        None if spec is None else torch.empty_strided(spec[0], spec[1], dtype=spec[2], device=_META) for spec in specs
    ]


def tensor_arguments(args: tuple) -> list[torch.Tensor]:
    """Tensor arguments of an aten op, one level of lists deep (as in ``cat``): aten takes no deeper."""
    found = []
    for arg in args:
        if isinstance(arg, torch.Tensor):
            found.append(arg)
        elif isinstance(arg, (list, tuple)) and arg and type(arg[0]) is not int:  # not an int[] (sizes)
            found.extend(a for a in arg if isinstance(a, torch.Tensor))
    return found


def _difference(made: object, real: object) -> str | None:
    """What differs between a re-made result and the kernel's (None: nothing the pass reads)."""
    if isinstance(real, (tuple, list)) or isinstance(made, (tuple, list)):
        if type(made) is not type(real) or len(made) != len(real):  # type: ignore[arg-type]
            return f"{type(made).__name__} of {_length(made)} against {type(real).__name__} of {_length(real)}"
        for index, (a, b) in enumerate(zip(made, real)):  # type: ignore[call-overload]
            if (difference := _difference(a, b)) is not None:
                return f"output {index}: {difference}"
        return None
    if made is None or real is None:
        return None if made is real else f"{made!r} against {real!r}"
    if not (isinstance(made, torch.Tensor) and isinstance(real, torch.Tensor)):
        return f"{type(made).__name__} against {type(real).__name__}"
    ours = _facts(made)
    theirs = _facts(real)
    if ours != theirs:
        return f"{ours} against the kernel's {theirs}"
    return None


def _facts(tensor: torch.Tensor) -> tuple:
    return (
        tuple(tensor.shape),
        tensor.stride(),
        tensor.storage_offset(),
        tensor.dtype,
        tensor.device,
        tensor.untyped_storage().nbytes(),
        tensor.is_conj(),
        tensor.is_neg(),
    )


def _length(value: object) -> int:
    return len(value) if isinstance(value, (tuple, list)) else 1


def check_same(func, made: object, real: object) -> None:
    """Raise if a re-made result differs from the kernel's in anything the pass reads."""
    difference = _difference(made, real)
    if difference is not None:
        raise AssertionError(f"meta shortcut for {func}: {difference}")


# Rules: results worked out from the arguments' shapes, for the ops every network runs many
# times (convolution, batch norm, element-wise arithmetic) or whose first call is slow
# (addmm, layer norm, GELU, roll, mean: 0.3-1 ms). Each holds for plain inputs only (on the
# meta device, of one dtype, with the strides torch.empty gives); anything else goes to the
# recipes.

aten = torch.ops.aten

_BATCH_NORM = {
    aten._native_batch_norm_legit_no_training.default,
    aten._native_batch_norm_legit.default,
    aten.native_batch_norm.default,
}
_IN_PLACE_OPS = {
    aten.relu_.default, aten.hardtanh_.default, aten.silu_.default, aten.hardswish_.default, aten.sigmoid_.default,
    aten.add_.Tensor, aten.mul_.Tensor, aten.sub_.Tensor, aten.div_.Tensor, aten.mul_.Scalar, aten.div_.Scalar,
    aten.bernoulli_.float,  # stochastic depth's mask
}  # fmt: skip
# Element-wise ops of one tensor whose float result has its input's dtype (scalar arguments aside).
_UNARY = {
    aten.relu.default, aten.sigmoid.default, aten.tanh.default, aten.gelu.default, aten.silu.default,
    aten.hardswish.default, aten.hardsigmoid.default, aten.hardtanh.default, aten.clamp.default,
    aten.clamp_min.default, aten.clamp_max.default, aten.exp.default, aten.neg.default, aten.abs.default,
    aten.sqrt.default, aten.rsqrt.default, aten.mul.Scalar, aten.add.Scalar, aten.sub.Scalar, aten.div.Scalar,
}  # fmt: skip
_BINARY = {aten.add.Tensor, aten.mul.Tensor, aten.sub.Tensor, aten.div.Tensor}


_ELEMENTWISE = _IN_PLACE_OPS | _UNARY | _BINARY
_RULED = (
    _ELEMENTWISE
    | _BATCH_NORM
    | {
        aten.convolution.default,
        aten.cat.default,
        aten.addmm.default,
        aten.native_layer_norm.default,
        aten.roll.default,
        aten.mean.dim,
    }
)


def _by_rule(func, args: tuple, kwargs: dict) -> object:
    """The result by a shape rule, or None where no rule applies."""
    if func not in _RULED:
        return None
    if func is aten.cat.default:
        return _concatenation(args) if not kwargs else None
    first = args[0] if args else None
    if not (isinstance(first, torch.Tensor) and first.is_meta and _plain(first)):
        return None
    if func in _ELEMENTWISE:
        return _elementwise(func, first, args, kwargs)
    if func in _BATCH_NORM:
        # Training-mode batch norm returns (and autograd saves) a mean and an inverse
        # standard deviation per channel; inference returns empty ones.
        stats = 0 if func is aten._native_batch_norm_legit_no_training.default else first.shape[1]
        return (_empty(first.shape, first), _empty((stats,), first), _empty((stats,), first))
    if kwargs:
        return None
    if func is aten.convolution.default:
        return _convolution(*args)
    if func is aten.addmm.default:
        return _addmm(*args)
    if func is aten.roll.default:  # Swin's shifted windows: the entries move, the shape stays
        return _empty(first.shape, first)
    if func is aten.mean.dim:  # squeeze-excitation's pooling
        return _mean(*args)
    return _layer_norm(*args)


def _elementwise(func, first: torch.Tensor, args: tuple, kwargs: dict) -> object:
    """In place: the tensor written, where the others broadcast to its shape; otherwise a
    float tensor of the broadcast shape, where every tensor is a plain one of one dtype."""
    if not all(_scalar_or_like(value, first) for value in (*args[1:], *kwargs.values())):
        return None
    if func in _IN_PLACE_OPS:
        others = [a for a in args[1:] if isinstance(a, torch.Tensor)]
        return first if all(_broadcast(first.shape, o.shape) == tuple(first.shape) for o in others) else None
    if not first.is_floating_point():
        return None
    if func in _UNARY:
        return _empty(first.shape, first)
    shape = _broadcast(first.shape, args[1].shape) if isinstance(args[1], torch.Tensor) else None
    return _empty(shape, first) if shape is not None else None


def _plain(tensor: torch.Tensor) -> bool:
    """Contiguous with the strides ``torch.empty`` gives (a size-1 axis's stride included)."""
    return tensor.stride() == _empty_strides(tensor.shape)


@functools.lru_cache(maxsize=4096)
def _empty_strides(shape: torch.Size) -> tuple[int, ...]:
    strides, expected = [], 1
    for size in reversed(shape):
        strides.append(expected)
        expected *= max(size, 1)
    return tuple(reversed(strides))


def _scalar_or_like(value: object, first: torch.Tensor) -> bool:
    """A Python scalar, a string, None, or a plain meta tensor of ``first``'s dtype."""
    if isinstance(value, torch.Tensor):
        return value.is_meta and value.dtype == first.dtype and _plain(value)
    return isinstance(value, (bool, int, float, str, type(None)))


def _empty(shape, like: torch.Tensor) -> torch.Tensor:
    return torch.empty(shape, dtype=like.dtype, device=_META)


_META = torch.device("meta")


def _broadcast(a, b) -> tuple[int, ...] | None:
    """The shape two shapes broadcast to, or None where they do not."""
    if tuple(a) == tuple(b):
        return tuple(a)
    width = max(len(a), len(b))
    a, b = (1,) * (width - len(a)) + tuple(a), (1,) * (width - len(b)) + tuple(b)
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
        return None
    return tuple(y if x == 1 else x for x, y in zip(a, b))


def _concatenation(args: tuple) -> torch.Tensor | None:
    tensors = args[0] if args and isinstance(args[0], (list, tuple)) else ()
    tensors = [t for t in tensors if not (isinstance(t, torch.Tensor) and t.dim() == 1 and t.numel() == 0)]
    if not tensors or not all(isinstance(t, torch.Tensor) and t.is_meta and _plain(t) for t in tensors):
        return None
    first = tensors[0]
    if any(t.dim() != first.dim() or t.dtype != first.dtype for t in tensors) or first.dim() == 0:
        return None
    dim = (args[1] if len(args) > 1 else 0) % first.dim()
    if any(t.shape[:dim] != first.shape[:dim] or t.shape[dim + 1 :] != first.shape[dim + 1 :] for t in tensors):
        return None
    shape = list(first.shape)
    shape[dim] = sum(t.shape[dim] for t in tensors)
    return _empty(shape, first)


def _convolution(x, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """Per spatial axis ``(size + 2p - d(k - 1) - 1) // s + 1``; None where the kernel should
    run instead, to raise its error (channels that do not match, a map smaller than the
    kernel) or to pick a memory format (a weight that is not plain)."""
    spatial = weight.dim() - 2
    settings = [per_axis(value, spatial) for value in (stride, padding, dilation)]
    if (
        transposed
        or x.dim() != weight.dim()
        or spatial < 1
        or None in settings
        or x.shape[1] != weight.shape[1] * groups
        or weight.shape[0] % groups
        or x.dtype != weight.dtype
        or not (weight.is_meta and _plain(weight))
        or (bias is not None and (bias.dtype != x.dtype or tuple(bias.shape) != (weight.shape[0],)))
    ):
        return None
    strides, paddings, dilations = settings
    shape = [x.shape[0], weight.shape[0]]
    for axis, kernel in enumerate(weight.shape[2:]):
        size = (x.shape[2 + axis] + 2 * paddings[axis] - dilations[axis] * (kernel - 1) - 1) // strides[axis] + 1
        if size < 1:
            return None
        shape.append(size)
    return _empty(shape, x)


def per_axis(value: object, axes: int) -> list[int] | None:
    """A convolution's stride, padding or dilation, one int per spatial axis (None if malformed)."""
    values = [value] if isinstance(value, int) else list(value)  # type: ignore[call-overload]
    if len(values) == 1:
        values = values * axes
    return values if len(values) == axes and all(isinstance(v, int) for v in values) else None


def _addmm(bias, left, right, *scales) -> torch.Tensor | None:
    """``bias + left @ right`` (a linear layer): (n, m) @ (m, p) is (n, p)."""
    tensors = (bias, left, right)
    if scales or not all(isinstance(t, torch.Tensor) and t.is_meta and t.dtype == left.dtype for t in tensors):
        return None
    if left.dim() != 2 or right.dim() != 2 or left.shape[1] != right.shape[0]:
        return None
    shape = (left.shape[0], right.shape[1])
    return _empty(shape, left) if _broadcast(bias.shape, shape) == shape else None


def _mean(x, dim, keepdim=False, dtype=None) -> torch.Tensor | None:
    """A mean over the axes ``dim`` (all of them: None or empty), of ``x``'s float dtype."""
    if dtype is not None or not x.is_floating_point() or x.dim() == 0:
        return None
    reduced = {d % x.dim() for d in ([dim] if isinstance(dim, int) else dim or range(x.dim()))}
    return _empty([1 if i in reduced else n for i, n in enumerate(x.shape) if keepdim or i not in reduced], x)


def _layer_norm(x, normalized_shape, weight, bias, eps) -> tuple | None:
    """The normalised tensor, and a mean and an inverse standard deviation per normalised
    group (float32 and float64 only: at lower precision the statistics' dtype varies)."""
    axes = len(normalized_shape)
    if x.dtype not in (torch.float32, torch.float64) or tuple(x.shape[x.dim() - axes :]) != tuple(normalized_shape):
        return None
    for affine in (weight, bias):
        if affine is not None and not (affine.is_meta and tuple(affine.shape) == tuple(normalized_shape)):
            return None
    stats = (*x.shape[: x.dim() - axes], *(1,) * axes)
    return (_empty(x.shape, x), _empty(stats, x), _empty(stats, x))
