"""The VGG argument: one large kxk convolution against a stack of 3x3 convolutions with the
same receptive field, measured by the analysis engine (no hand-written table)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cnnexplorer.analysis.engine import analyze_module
from cnnexplorer.errors import UsageError


@dataclass(frozen=True)
class KernelOption:
    """One configuration of the comparison, with the engine's figures."""

    label: str
    kernel: int
    convolutions: int
    receptive_field: int
    params: int
    macs: int
    nonlinearities: int
    channels: int
    height: int
    width: int

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def params_per_c2(self) -> float:
        """Parameters in units of C^2 (the text's 49C^2, 27C^2, ...)."""
        return self.params / self.channels**2

    @property
    def flops_per_c2hw(self) -> float:
        """FLOPs in units of C^2 HW (the text's 98C^2HW, 54C^2HW, ...)."""
        return self.flops / (self.channels**2 * self.height * self.width)


def _stack(channels: int, kernel: int, count: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(count):
        # No biases: the text counts weights only (C x C x k x k).
        layers += [nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=False), nn.ReLU()]
    return nn.Sequential(*layers)


def _measure(channels: int, height: int, width: int, kernel: int, count: int) -> KernelOption:
    with torch.device("meta"):
        model = _stack(channels, kernel, count)
    analysis = analyze_module(model, (channels, height, width), name=f"{count}x{kernel}x{kernel}")
    last = analysis.layers[-1]
    return KernelOption(
        label=f"{'one' if count == 1 else count} {kernel}x{kernel} conv{'s' if count > 1 else ''}",
        kernel=kernel,
        convolutions=count,
        receptive_field=last.receptive_field or 0,
        params=analysis.totals.params,
        macs=analysis.totals.macs,
        nonlinearities=sum(1 for n in analysis.layers if n.type == "ReLU"),
        channels=channels,
        height=height,
        width=width,
    )


# Bounds that keep the comparison a lesson, not a stress test: a 99x99 kernel is a stack of
# 49 3x3 convs; past these sizes tensors stop fitting the index types.
MAX_CHANNELS = 65_536
MAX_SIZE = 16_384
MAX_KERNEL = 99


def compare_stacked_kernels(
    channels: int, height: int, width: int, kernels: tuple[int, ...] = (5, 7)
) -> list[tuple[KernelOption, KernelOption]]:
    """For each large kernel size, (one kxk conv, the 3x3 stack with its receptive field)."""
    if not (1 <= channels <= MAX_CHANNELS and 1 <= height <= MAX_SIZE and 1 <= width <= MAX_SIZE):
        raise UsageError(
            f"channels must be 1 to {MAX_CHANNELS:,} and the size 1 to {MAX_SIZE:,} "
            f"(got {channels:,} channels, {height:,}x{width:,})"
        )
    pairs = []
    for kernel in kernels:
        if kernel < 5 or kernel % 2 == 0 or kernel > MAX_KERNEL:
            raise UsageError(
                f"invalid kernel size {kernel}: use an odd size from 5 to {MAX_KERNEL} "
                "(a stack of (k-1)/2 3x3 convs matches it)"
            )
        stack_depth = (kernel - 1) // 2
        pairs.append((_measure(channels, height, width, kernel, 1), _measure(channels, height, width, 3, stack_depth)))
    return pairs
