"""The training-memory estimate against real training steps: estimate / measured.

    python bench/bench_memory.py [--models resnet18:8,resnet20:128] [--threads 2]

For each model and batch at the model's default input, one SGD-momentum training step as
the training loop runs it (forward, loss, zero_grad(set_to_none=True), backward, step) is
measured after a first step (so that the previous step's gradients and the momentum
buffers exist, as at every later step):

- CPU: the tensor peak from torch.profiler's memory events: the bytes live before the
  steps (parameters, buffers, the batch) plus the highest running sum of allocations less
  frees; and what the forward pass keeps for backward (the running sum at its end, less
  its outputs) against the estimate's saved activations;
- GPU, when one is available: torch.cuda.max_memory_allocated over the two steps (which
  also counts cuDNN and cuBLAS workspaces and the allocator's 512-byte rounding).

Goal (issues 11 and 21): every CPU ratio within 0.95-1.05, the transformers' included (their
attention counted as the CPU's fused kernel runs it: see cnnexplorer/analysis/attention.py).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from cnnexplorer import units, zoo
from cnnexplorer.analysis import AnalysisRequest, analyze

DEFAULT_RUNS = "resnet18:8,resnet20:128,densenet121:4,googlenet:4,vgg16:2,vit_b_16:2,swin_t:2,convnext_tiny:2"


def loss_of(output, targets: torch.Tensor) -> torch.Tensor:
    if hasattr(output, "aux_logits1"):  # GoogLeNet in training mode, as the training loop weighs it
        aux = [a for a in (output.aux_logits1, output.aux_logits2) if a is not None]
        return F.cross_entropy(output.logits, targets) + 0.3 * sum(F.cross_entropy(a, targets) for a in aux)
    return F.cross_entropy(output, targets)


def step(model, optimizer, images, targets) -> None:
    loss = loss_of(model(images), targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def live_bytes(tensors) -> int:
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    return sum(storages.values())


def running_sums(profiler: profile) -> list[int]:
    events = sorted(
        (e.start_ns(), e.nbytes()) for e in profiler.profiler.kineto_results.events() if e.name() == "[memory]"
    )
    sums, total = [], 0
    for _, change in events:
        total += change
        sums.append(total)
    return sums


def cpu_step_peak(model, images, targets) -> int:
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    before = live_bytes([*model.parameters(), *model.buffers(), images, targets])
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        step(model, optimizer, images, targets)
        step(model, optimizer, images, targets)
    return before + max(running_sums(profiler))


def cpu_forward_keeps(model, images) -> int:
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        output = model(images)
    outputs = [t for t in (output if isinstance(output, tuple) else (output,)) if t is not None]
    return running_sums(profiler)[-1] - live_bytes(outputs)


def cuda_step_peak(model, images, targets) -> int:
    model, images, targets = model.cuda(), images.cuda(), targets.cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    step(model, optimizer, images, targets)
    step(model, optimizer, images, targets)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=DEFAULT_RUNS, help=f"name:batch,... (default {DEFAULT_RUNS})")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gpu = torch.cuda.is_available()
    device = torch.cuda.get_device_name() if gpu else "none"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, GPU: {device}")
    columns = ["estimate", "CPU peak", "ratio", "saved est.", "kept", "ratio"] + (["GPU peak", "ratio"] if gpu else [])
    print(f"{'model':12s} {'batch':>5s} " + " ".join(f"{c:>{6 if c == 'ratio' else 10}s}" for c in columns))
    for run in args.models.split(","):
        name, batch = run.split(":")
        arch, batch = zoo.get(name), int(batch)
        memory = analyze(AnalysisRequest.of(arch.name, batch=batch)).memory
        estimate = memory.training_bytes("sgd")
        torch.manual_seed(0)
        model = arch.build().train()
        images = torch.randn(batch, *arch.input_size)
        targets = torch.randint(arch.num_classes, (batch,))
        started = time.perf_counter()
        peak = cpu_step_peak(model, images, targets)
        saved = memory.training_activation_bytes - images.numel() * images.element_size()
        kept = cpu_forward_keeps(model, images)
        line = (
            f"{arch.name:12s} {batch:5d} {units.size(estimate):>10s} {units.size(peak):>10s} {estimate / peak:6.3f} "
            f"{units.size(saved):>10s} {units.size(kept):>10s} {saved / kept:6.3f}"
        )
        if gpu:
            gpu_peak = cuda_step_peak(model, images, targets)
            line += f" {units.size(gpu_peak):>10s} {estimate / gpu_peak:6.3f}"
        print(line + f"   ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
