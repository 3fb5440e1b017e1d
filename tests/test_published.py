"""Our counts against torchvision's published figures (weights.meta, offline data)."""

import pytest

from cnnexplorer import zoo
from cnnexplorer.zoo.published import published
from tests.test_zoo import TORCHVISION_NAMES


@pytest.mark.parametrize("name", TORCHVISION_NAMES)
def test_params_equal_and_macs_within_half_a_percent_of_torchvision(name, analysis_of):
    reference = published(zoo.get(name))
    analysis = analysis_of(name)
    # GoogLeNet's published count excludes the auxiliary classifiers, as does our total.
    assert analysis.totals.params == reference.num_params
    published_macs = reference.gmacs * 1e9
    assert abs(analysis.totals.macs - published_macs) / published_macs < 0.005


@pytest.mark.parametrize("name", zoo.names())
def test_macs_agree_with_pytorch_flop_counter(name, analysis_of):
    analysis = analysis_of(name)
    counted = analysis.totals.macs + analysis.totals.training_only_macs
    assert analysis.flop_counter_flops == 2 * counted
    assert analysis.totals.flops == 2 * analysis.totals.macs


def test_googlenet_counts_with_and_without_auxiliary_heads(analysis_of):
    analysis = analysis_of("googlenet")
    assert analysis.totals.params == 6_624_904
    aux = [n for n in analysis.root.children if n.training_only]
    assert [n.path for n in aux] == ["aux1", "aux2"]
    # Each InceptionAux: conv 1x1 (128 filters, +BN), FC 2048->1024, FC 1024->1000.
    per_head = (512 * 128 + 2 * 128) + (2048 * 1024 + 1024) + (1024 * 1000 + 1000)
    per_head_aux2 = per_head + (528 - 512) * 128
    assert analysis.totals.training_only_params == per_head + per_head_aux2
    assert analysis.totals.params_with_training_only == 13_004_888
    assert all(n.output_shape == (1, 1000) for n in aux)


def test_published_accuracy_is_carried():
    reference = published(zoo.get("vgg16"))
    assert reference.weights == "IMAGENET1K_V1"
    assert reference.acc5 == pytest.approx(90.382)
    assert reference.top5_error == pytest.approx(9.618)
    assert published(zoo.get("resnet20")) is None
