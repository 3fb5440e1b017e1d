"""Evaluation: loss, top-1 and top-5 over every image exactly once (also under DDP)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from cnnexplorer.train.devices import Placement
from cnnexplorer.train.metrics import topk_correct


@dataclass
class EvalResult:
    images: int
    loss: float  # mean cross-entropy (no label smoothing)
    top1: float  # percent
    top5: float
    seconds: float
    per_class_correct: list[int]
    per_class_total: list[int]

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "images": self.images,
            "loss": self.loss,
            "top1": self.top1,
            "top5": self.top5,
            "top1_error": 100.0 - self.top1,
            "top5_error": 100.0 - self.top5,
            "seconds": self.seconds,
            "img_per_s": self.images_per_second,
        }


def autocast_for(device: torch.device, amp: str | None):
    """The autocast context of an ``--amp`` setting (a no-op without one)."""
    if amp is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def to_device(
    images: torch.Tensor, targets: torch.Tensor, device: torch.device, channels_last: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of images (uint8: normalised on the device) and targets onto the device."""
    from cnnexplorer.train.gpu_input import images_to_device

    return images_to_device(images, device, channels_last), targets.to(device, non_blocking=True)


@torch.inference_mode()
def evaluate(
    model: torch.nn.Module,
    loader: DataLoader,
    placement: Placement,
    num_classes: int,
    amp: str | None = None,
    channels_last: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """Evaluate ``model`` (not DDP-wrapped) on this rank's shard of ``loader`` and sum the
    counts over all ranks; ``on_batch(done, total)`` reports progress."""
    from cnnexplorer.train.gpu_input import PrefetchedBatches, preparer_for

    was_training = model.training
    model.eval()
    device = placement.device
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # images, loss sum, correct@1
    correct5 = torch.zeros((), dtype=torch.float64, device=device)
    class_correct = torch.zeros(num_classes, dtype=torch.float64, device=device)
    class_total = torch.zeros(num_classes, dtype=torch.float64, device=device)
    started = time.perf_counter()
    batches = PrefetchedBatches(iter(loader), preparer_for(loader.dataset, device, channels_last), device)
    try:
        for index, (images, targets) in enumerate(batches):
            with autocast_for(device, amp):
                logits = model(images)
            logits = logits.float()
            correct = topk_correct(logits, targets, (1, 5))
            sums += torch.stack(
                [
                    torch.tensor(float(targets.numel()), dtype=torch.float64, device=device),
                    F.cross_entropy(logits, targets, reduction="sum").double(),
                    correct[:, 0].sum().double(),
                ]
            )
            correct5 += correct[:, 1].sum()
            class_total += torch.bincount(targets, minlength=num_classes).double()
            class_correct += torch.bincount(targets[correct[:, 0]], minlength=num_classes).double()
            if on_batch is not None:
                on_batch(index + 1, len(loader))
    finally:
        batches.close()
    totals = torch.cat([sums, correct5.view(1), class_correct, class_total])
    if placement.distributed:
        import torch.distributed as dist

        dist.all_reduce(totals)
    seconds = time.perf_counter() - started
    model.train(was_training)
    images, loss_sum, correct1, top5_count = totals[:4].tolist()
    images_int = int(images)
    per_class = totals[4:].view(2, num_classes).long().tolist()
    return EvalResult(
        images=images_int,
        loss=loss_sum / images_int if images_int else float("nan"),
        top1=100.0 * correct1 / images_int if images_int else float("nan"),
        top5=100.0 * top5_count / images_int if images_int else float("nan"),
        seconds=seconds,
        per_class_correct=per_class[0],
        per_class_total=per_class[1],
    )


def broadcast_buffers(model: torch.nn.Module, placement: Placement) -> None:
    """Give every rank rank 0's buffers (BatchNorm statistics), so that what all ranks
    evaluate is what rank 0 saves."""
    if not placement.distributed:
        return
    import torch.distributed as dist

    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)
