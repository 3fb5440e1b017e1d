"""Training-only heads are found by what runs, not by a list of names: a module that a
training-mode forward runs and an inference-mode forward does not. The oracle is a real
forward on the CPU (random weights and input) under FlopCounterMode, in each mode."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cnnexplorer import zoo
from cnnexplorer.analysis import AnalysisRequest, analyze
from cnnexplorer.render.summary import render_markdown
from tests.test_published import HEADS


@pytest.fixture(scope="module")
def inception():
    torch.manual_seed(0)
    return zoo.get("inception_v3").build()


def real_flops(model, batch: int, input_size: tuple[int, int, int], training: bool) -> tuple[int, dict]:
    """FlopCounterMode's total over a real CPU forward, and its per-module counts."""
    model.train(training)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(batch, *input_size))
    return counter.get_total_flops(), counter.get_flop_counts()


@pytest.mark.parametrize(("batch", "input_size"), [(1, (3, 299, 299)), (2, (3, 299, 299)), (1, (3, 299, 400))])
def test_inception_v3_totals_equal_a_real_inference_forward(inception, batch, input_size):
    analysis = analyze(AnalysisRequest.of("inception_v3", input_size, batch))
    inference_flops, _ = real_flops(inception, batch, input_size, training=False)
    assert 2 * analysis.totals.macs == inference_flops
    assert analysis.flop_counter_flops == inference_flops
    head_params = sum(p.numel() for p in inception.AuxLogits.parameters())
    assert analysis.totals.params == sum(p.numel() for p in inception.parameters()) - head_params
    assert analysis.totals.training_only_params == head_params
    assert tuple(n.path for n in analysis.root.children if n.training_only) == HEADS["inception_v3"]


def test_inception_v3_auxiliary_head_counted_apart_where_it_trains(inception):
    # Batch 2: the head trains (at batch 1 its batch norm sees one value per channel).
    analysis = analyze(AnalysisRequest.of("inception_v3", batch=2))
    _, per_module = real_flops(inception, 2, (3, 299, 299), training=True)
    head = sum(per_module["Inception3.AuxLogits"].values())
    assert 2 * analysis.totals.training_only_macs == head > 0
    assert analysis.node("AuxLogits").output_shape == (2, 1000)


def test_inception_v3_at_an_input_too_small_for_its_head_is_analysed(inception):
    # The head pools 5x5 with stride 3 and then convolves 5x5: at 96x160 its map vanishes,
    # yet the inference forward runs; the analysis stands and says the heads did not run.
    with pytest.raises(RuntimeError):
        real_flops(inception, 2, (3, 96, 160), training=True)
    inference_flops, _ = real_flops(inception, 2, (3, 96, 160), training=False)
    analysis = analyze(AnalysisRequest.of("inception_v3", (3, 96, 160), 2))
    assert 2 * analysis.totals.macs == inference_flops
    assert analysis.node("AuxLogits").training_only and not analysis.node("AuxLogits").executed
    assert analysis.totals.training_only_macs == 0
    assert "cannot run at this input and batch" in render_markdown(analysis)


@pytest.mark.parametrize("name", sorted(HEADS))
def test_heads_are_the_modules_only_training_runs(name):
    analysis = analyze(AnalysisRequest.of(name, batch=2))
    assert tuple(sorted(n.path for n in analysis.root.walk() if n.training_only and "." not in n.path)) == HEADS[name]
    assert not any(n.training_only for n in analyze(AnalysisRequest.of("resnet18", batch=2)).root.walk())
