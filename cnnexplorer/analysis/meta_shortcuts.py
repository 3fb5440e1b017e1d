"""Meta-kernel results without the meta kernel, for the analysis pass.

On the meta device many aten kernels are Python decompositions (torch/_refs, torch/_prims):
broadcasting, type promotion and stride rules worked out in Python, 0.2-1 ms a call for
``native_layer_norm``, ``addmm``, ``gelu``, a reduction. A network repeats its blocks, so
the same op meets inputs of the same shapes, strides and dtypes again and again; on the
meta device the result's metadata is a function of exactly those (there are no values).

:func:`output` runs each op's kernel the first time it meets a given signature (the op,
each tensor argument's shape, strides, storage offset, dtype and device, every other
argument by type and value) and keeps a recipe of the result; later calls with that
signature re-make the result from the recipe:

- an op that returns new tensors (no alias in its schema): ``torch.empty_strided`` of
  each output's shape, strides and dtype. Kept only where the re-made tensor is the same
  in every respect the pass reads: shape, strides, dtype, storage offset 0, storage size
  (the training-memory estimate counts storages), and a storage of its own (an op whose
  output shares an input's storage, ``_unsafe_view``, is not re-made);
- an in-place op (it writes its first argument and returns it): that argument, where
  the kernel returned it with its shape and strides unchanged (``resize_`` is not re-made).

Every other op (views, ``out=`` variants, ops with a tensor argument off the meta device,
whose values a meta kernel may read) runs its kernel each time. Recipes live for one pass
(:func:`recording`), so global state a kernel may read (the default dtype) cannot go stale.

With ``CHECK`` set (the ``CNNEXPLORER_CHECK_META_SHORTCUTS`` environment variable, or the
attribute in a test) every re-made result is compared with the kernel's own: the oracle is
torch's meta kernel. Private torch API used: none (``OpOverload._schema`` is torch's
documented op-schema accessor; ``untyped_storage()._cdata`` tells storages apart, as the
memory estimate does).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator

import torch

CHECK = bool(os.environ.get("CNNEXPLORER_CHECK_META_SHORTCUTS"))
ENABLED = True  # off: every op runs its kernel (the bench's baseline)

_FUNCTIONAL, _IN_PLACE = "functional", "in-place"
_NOT_REMADE = object()  # the recipe of a result that cannot be re-made: run the kernel
_UNKEYABLE = object()

_recipes: dict | None = None  # None: no pass is recording
hits = 0  # re-made results since the last recording began (for the bench and tests)


@contextlib.contextmanager
def recording() -> Iterator[None]:
    """Keep recipes for the duration of one pass (one pass at a time: the engine's lock)."""
    global _recipes, hits
    _recipes, hits = ({} if ENABLED else None), 0
    try:
        yield
    finally:
        _recipes = None


def output(func, args: tuple, kwargs: dict) -> object:
    """``func(*args, **kwargs)``, re-made from a recipe where this pass has run the same op
    on the same signature already."""
    global hits
    recipes = _recipes
    kind = _kind(func) if recipes is not None else None
    if kind is None:
        return func(*args, **kwargs)
    key = _key(func, args, kwargs)
    if key is _UNKEYABLE:
        return func(*args, **kwargs)
    recipe = recipes.get(key)
    if recipe is None:
        out = func(*args, **kwargs)
        recipes[key] = _recipe(kind, key, args, kwargs, out)
        return out
    if recipe is _NOT_REMADE:
        return func(*args, **kwargs)
    hits += 1
    made = args[0] if kind == _IN_PLACE else _make(recipe)
    if CHECK:
        check_same(func, made, func(*args, **kwargs))
    return made


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


class _Unkeyable(Exception):
    pass


_PLAIN = (bool, int, float, str, type(None), torch.dtype, torch.device, torch.memory_format, torch.layout)


def _signature(value: object) -> object:
    if isinstance(value, torch.Tensor):
        if not value.is_meta or type(value) not in (torch.Tensor, torch.nn.Parameter):
            raise _Unkeyable
        return (value.shape, value.stride(), value.storage_offset(), value.dtype)
    if isinstance(value, (tuple, list)):
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
    inputs = {t.untyped_storage()._cdata for t in _tensors(args) + _tensors(tuple(kwargs.values()))}
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
        None if spec is None else torch.empty_strided(spec[0], spec[1], dtype=spec[2], device="meta") for spec in specs
    ]


def _tensors(values: tuple) -> list[torch.Tensor]:
    found = []
    for value in values:
        if isinstance(value, torch.Tensor):
            found.append(value)
        elif isinstance(value, (tuple, list)):
            found.extend(_tensors(tuple(value)))
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
