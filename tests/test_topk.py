"""Top-k accuracy against hand-worked cases."""

import pytest
import torch

from cnnexplorer.train.metrics import topk_accuracy, topk_correct


def test_hand_cases_top1_and_top2():
    logits = torch.tensor(
        [
            [0.1, 0.7, 0.2],  # true 1: rank 0
            [0.5, 0.3, 0.2],  # true 1: rank 1
            [0.6, 0.3, 0.1],  # true 2: rank 2
            [0.2, 0.2, 0.6],  # true 2: rank 0
        ]
    )
    targets = torch.tensor([1, 1, 2, 2])
    assert topk_correct(logits, targets, (1, 2, 3)).tolist() == [
        [True, True, True],
        [False, True, True],
        [False, False, True],
        [True, True, True],
    ]
    assert topk_accuracy(logits, targets, (1, 2, 3)) == [50.0, 75.0, 100.0]


def test_ties_count_against_the_model():
    # The true class ties with another for first place: not top-1, but top-2.
    logits = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    assert topk_correct(logits, torch.tensor([0, 1]), (1, 2)).tolist() == [[False, True], [False, True]]
    # A constant output never scores below k = number of classes, whatever the order of classes.
    constant = torch.zeros(5, 10)
    assert topk_accuracy(constant, torch.arange(5), (1, 5, 9, 10)) == [0.0, 0.0, 0.0, 100.0]


def test_a_tie_below_the_true_class_does_not_matter():
    logits = torch.tensor([[3.0, 1.0, 1.0, 1.0]])
    assert topk_correct(logits, torch.tensor([0]), (1,)).tolist() == [[True]]


def test_k_larger_than_the_classes_is_always_correct():
    logits = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.5, 0.4]])
    targets = torch.tensor([1, 0, 1])
    assert topk_accuracy(logits, targets, (1, 5)) == [0.0, 100.0]


def test_nan_logits_never_count():
    logits = torch.tensor([[float("nan"), 0.0, 0.0], [0.0, float("nan"), 1.0]])
    assert topk_correct(logits, torch.tensor([0, 2]), (1, 3)).tolist() == [[False, False], [True, True]]


def test_matches_torch_topk_without_ties():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(200, 17, generator=generator)
    targets = torch.randint(17, (200,), generator=generator)
    top5 = logits.topk(5, dim=1).indices
    expected = [(top5[:, :k] == targets[:, None]).any(dim=1) for k in (1, 5)]
    assert topk_correct(logits, targets, (1, 5)).T.tolist() == [e.tolist() for e in expected]


def test_bad_shapes_and_k_are_refused():
    with pytest.raises(ValueError):
        topk_correct(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError):
        topk_correct(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), (0,))
