"""Top-k accuracy with a defined answer for ties and for k larger than the class count."""

from __future__ import annotations

import torch


def topk_correct(logits: torch.Tensor, targets: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> torch.Tensor:
    """Per sample and per k, whether the true class is in the top k: a bool tensor (N, len(ks)).

    The true class's rank is the number of *other* classes scoring at least as high as it,
    so a tie at the boundary counts against the model (a constant output never scores);
    with k at or above the number of classes every sample is correct. NaN logits never
    count as correct.
    """
    if logits.ndim != 2 or targets.ndim != 1 or logits.shape[0] != targets.shape[0]:
        raise ValueError(
            f"expected logits (N, C) and targets (N,), got {tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    if any(k < 1 for k in ks):
        raise ValueError(f"k must be 1 or more, got {ks}")
    logits = logits.detach().float()
    true_score = logits.gather(1, targets.long().unsqueeze(1))
    rank = (logits >= true_score).sum(dim=1) - 1
    rank = torch.where(torch.isnan(true_score.squeeze(1)), torch.full_like(rank, logits.shape[1]), rank)
    return torch.stack([rank < k for k in ks], dim=1)


def topk_accuracy(logits: torch.Tensor, targets: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> list[float]:
    """Top-k accuracy in percent for each k (see :func:`topk_correct` for ties)."""
    correct = topk_correct(logits, targets, ks)
    return [100.0 * value for value in correct.float().mean(dim=0).tolist()]
