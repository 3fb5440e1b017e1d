"""Scaled dot-product attention in the analysis pass as a CPU training step runs it.

``F.scaled_dot_product_attention`` picks its kernel by the tensors' device. On the CPU it
runs the fused flash kernel (``_scaled_dot_product_flash_attention_for_cpu``) wherever that
kernel's conditions hold; for the backward pass it saves the output and each query's
log-sum-exp of scores. The meta device has no fused kernel to pick: the call decomposes into
the math kernel, whose autograd saves the attention matrix as well (batch x heads x tokens
x tokens: on ViT-B/16 a quarter of what the math kernel saves). :func:`cpu_attention` asks
PyTorch's own CPU choice (``torch._fused_sdp_choice``) on stand-in CPU tensors of the same
sizes, dtype and last-axis stride, and runs the fused kernel's meta version where the CPU
would, so that the training-memory estimate counts what a CPU step saves. CUDA's fused
kernels (flash, memory-efficient) save the same output and log-sum-exp.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend

aten = torch.ops.aten


@contextlib.contextmanager
def cpu_attention() -> Iterator[None]:
    """``F.scaled_dot_product_attention`` on meta tensors by the kernel the CPU would pick,
    for the duration of one analysis pass (the engine runs one pass at a time), in the thread
    that runs it; on any other tensors, or in any other thread, as it is. The function is
    swapped in ``torch.nn.functional`` rather than caught by a torch-function mode: a mode is
    off inside the Python functions it handles, and ``F.multi_head_attention_forward`` (ViT's
    attention) calls it from inside one. The swap is seen by every thread (the app's torchinfo
    worker runs meta forwards meanwhile): only the pass's own thread is answered."""
    original = F.scaled_dot_product_attention
    pass_thread = threading.get_ident()

    def attention(*args, **kwargs):
        if threading.get_ident() == pass_thread:
            call = _Attention(*args, **kwargs)
            if isinstance(call.query, torch.Tensor) and call.query.is_meta and _cpu_picks_flash(call):
                return _flash(call)
        return original(*args, **kwargs)

    F.scaled_dot_product_attention = attention
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


class _Attention:
    """The arguments of one ``scaled_dot_product_attention`` call, by name."""

    def __init__(
        self, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
    ) -> None:
        self.query, self.key, self.value, self.attn_mask = query, key, value, attn_mask
        self.dropout_p, self.is_causal, self.scale, self.enable_gqa = dropout_p, is_causal, scale, enable_gqa


def _cpu_picks_flash(call: _Attention) -> bool:
    if call.enable_gqa or not all(isinstance(t, torch.Tensor) for t in (call.query, call.key, call.value)):
        return False
    mask = _stand_in(call.attn_mask) if isinstance(call.attn_mask, torch.Tensor) else None
    choice = torch._fused_sdp_choice(
        _stand_in(call.query),
        _stand_in(call.key),
        _stand_in(call.value),
        attn_mask=mask,
        dropout_p=call.dropout_p,
        is_causal=call.is_causal,
        scale=call.scale,
    )
    return choice == SDPBackend.FLASH_ATTENTION.value


def _stand_in(tensor: torch.Tensor) -> torch.Tensor:
    """A CPU tensor with ``tensor``'s sizes, dtype, grad flag and last-axis stride, on a few
    bytes (its other strides are 0): what the CPU's choice reads."""
    if tensor.dim() == 0:
        return torch.empty((), dtype=tensor.dtype).requires_grad_(tensor.requires_grad)
    step = tensor.stride(-1)
    storage = torch.empty(max((tensor.shape[-1] - 1) * step + 1, 1), dtype=tensor.dtype)
    strides = (0,) * (tensor.dim() - 1) + (step,)
    return storage.as_strided(tensor.shape, strides).requires_grad_(tensor.requires_grad and tensor.is_floating_point())


def _flash(call: _Attention) -> torch.Tensor:
    """The CPU's flash kernel on meta tensors (a boolean mask made additive first, as
    ``scaled_dot_product_attention`` does for it)."""
    mask = call.attn_mask
    if isinstance(mask, torch.Tensor) and mask.dtype == torch.bool:
        mask = torch.zeros(mask.shape, dtype=call.query.dtype, device=mask.device).masked_fill(~mask, float("-inf"))
    output, _ = aten._scaled_dot_product_flash_attention_for_cpu(
        call.query, call.key, call.value, call.dropout_p, call.is_causal, attn_mask=mask, scale=call.scale
    )
    return output
