"""An aten op's FLOPs by ``FlopCounterMode``'s own formulas, without ``FlopCounterMode``.

The receptive-field tracker already sees every aten op of the pass, so it counts FLOPs itself
(:func:`op_flops`) rather than stacking a second dispatch mode with per-module hooks. This
reads torch's private formula table (``torch.utils.flop_counter.flop_registry``) and skips
its ``shape_wrapper``, recognised by its code object: where either changes, a formula is
called as it is registered, and the count is the same.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import flop_registry, shape_wrapper

aten = torch.ops.aten

_SHAPE_WRAPPED = shape_wrapper(lambda: None).__code__


# torch's addmm and baddbmm formulas are mm's and bmm's of the two products' operands, called
# through the shape wrapper again (a pytree map of the shapes: 15 us a call, a linear layer's
# every call): those formulas, called here on those operands.
_PRODUCT_OF = {aten.addmm: aten.mm, aten.baddbmm: aten.bmm}


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
    if isinstance(value, (list, tuple)) and not (value and type(value[0]) is int):  # not sizes or strides
        shapes = [_shapes(item) for item in value]
        return shapes if isinstance(value, list) else tuple(shapes)
    return value


# The CPU's fused attention kernel (run in the pass as the CPU runs it: attention.py) has no
# formula of its own: FlopCounterMode counts the other fused kernels' two products, as the math
# kernel's two matrix products count.
_ATTENTION_AS = {aten._scaled_dot_product_flash_attention_for_cpu: aten._scaled_dot_product_efficient_attention}


def op_flops(func, args: tuple, kwargs: dict, out: object) -> int:
    """The FLOPs FlopCounterMode counts for one call of ``func`` (0 for an op it does not count)."""
    packet = func.overloadpacket
    if packet in _PRODUCT_OF:
        return _flops(flop_registry[_PRODUCT_OF[packet]], args[1:3], {}, out)
    formula = flop_registry.get(_ATTENTION_AS.get(packet, packet))
    return 0 if formula is None else _flops(formula, args, kwargs, out)
