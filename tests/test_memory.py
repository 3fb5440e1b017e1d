"""The training-memory estimate against real training steps on the CPU, measured here with
torch.profiler's memory events (each tensor allocation and free, in order).

- The peak of a training step: the bytes live before profiling (parameters, buffers, the
  batch) plus the highest running sum of allocations less frees over two steps, the second
  of which starts with the previous step's gradients and the momentum buffers, as every
  step after the first does. A step is the training loop's: forward, loss,
  ``zero_grad(set_to_none=True)``, backward, SGD-momentum step.
- What a forward pass keeps for the backward pass: the running sum at the end of a
  training-mode forward, less the bytes of its outputs.

One small configuration of each kind of network: plain, residual, Inception, dense, attention
(global and windowed).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile
from torchvision.models.swin_transformer import SwinTransformer
from torchvision.models.vision_transformer import VisionTransformer

from cnnexplorer.analysis import analyze_module
from cnnexplorer.zoo import get

CONFIGURATIONS = {
    "plain: vgg11, b2 64x64": (lambda: get("vgg11").build(num_classes=10), 2, (3, 64, 64)),
    "residual: resnet20, b8 32x32": (lambda: get("resnet20").build(), 8, (3, 32, 32)),
    "inception: googlenet with aux heads, b2 96x96": (lambda: get("googlenet").build(num_classes=10), 2, (3, 96, 96)),
    "dense: densenet121, b2 64x64": (lambda: get("densenet121").build(num_classes=10), 2, (3, 64, 64)),
    # The CPU's fused attention kernel saves its output and log-sum-exp, not the attention
    # matrices the math kernel saves (counting those: +46% saved bytes here).
    "attention: a small ViT, b2 64x64": (
        lambda: VisionTransformer(64, 8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128, num_classes=10),
        2,
        (3, 64, 64),
    ),
    "window attention: a small Swin, b2 32x32": (
        lambda: SwinTransformer([4, 4], 16, [2, 2], [2, 4], [4, 4], num_classes=10),
        2,
        (3, 32, 32),
    ),
}


def _loss(output, targets: torch.Tensor) -> torch.Tensor:
    if hasattr(output, "aux_logits1"):  # GoogLeNet in training mode: the auxiliary losses too
        aux = [a for a in (output.aux_logits1, output.aux_logits2) if a is not None]
        return F.cross_entropy(output.logits, targets) + 0.3 * sum(F.cross_entropy(a, targets) for a in aux)
    return F.cross_entropy(output, targets)


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor, targets: torch.Tensor) -> None:
    loss = _loss(model(images), targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _live_bytes(tensors) -> int:
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    return sum(storages.values())


def _running_sums(profiler: profile) -> list[int]:
    """Bytes allocated less bytes freed since profiling began, after each memory event."""
    events = sorted(
        (event.start_ns(), event.nbytes())
        for event in profiler.profiler.kineto_results.events()
        if event.name() == "[memory]"
    )
    sums, total = [], 0
    for _, change in events:
        total += change
        sums.append(total)
    return sums


def measured_step_peak(model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> int:
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    before = _live_bytes([*model.parameters(), *model.buffers(), images, targets])
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        _step(model, optimizer, images, targets)
        _step(model, optimizer, images, targets)
    return before + max(_running_sums(profiler))


def measured_forward_keeps(model: nn.Module, images: torch.Tensor) -> int:
    model.train()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        output = model(images)
    outputs = [t for t in (output if isinstance(output, tuple) else (output,)) if t is not None]
    return _running_sums(profiler)[-1] - _live_bytes(outputs)


@pytest.fixture(scope="module", params=list(CONFIGURATIONS))
def configuration(request):
    """(estimate, real model, images, targets) of one configuration."""
    build, batch, input_size = CONFIGURATIONS[request.param]
    with torch.device("meta"):
        analysed = build()
    estimate = analyze_module(analysed, input_size, batch).memory
    torch.manual_seed(0)
    return estimate, build(), torch.randn(batch, *input_size), torch.randint(10, (batch,))


def test_training_step_peak_within_5_percent(configuration):
    estimate, model, images, targets = configuration
    measured = measured_step_peak(model, images, targets)
    assert estimate.training_bytes("sgd") == pytest.approx(measured, rel=0.05)


def test_saved_tensor_bytes_within_5_percent(configuration):
    estimate, model, images, targets = configuration
    saved = estimate.training_activation_bytes - images.numel() * images.element_size()
    assert saved == pytest.approx(measured_forward_keeps(model, images), rel=0.05)
