"""Every torchvision classifier against the figures published with its weights (metadata only)."""

import warnings

import pytest

from cnnexplorer import zoo
from cnnexplorer.analysis.engine import analyze
from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.zoo.published import published
from cnnexplorer.zoo.resolve import torchvision_names

# torchvision's "_ops" (labelled GFLOPS) counts multiply-adds of convolutions and matrix
# products, attention included, printed with three decimals: a MAC total matches it within
# 0.5% or within that rounding (mobilenet_v3_small's 0.057 is 0.0565 to 0.0575).
RELATIVE = 0.005
ROUNDING = 0.0005


@pytest.mark.parametrize("name", torchvision_names())
def test_params_and_macs_match_the_published_figures(name):
    arch = zoo.get(name)
    figures = published(arch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # inception_v3's note about its weight initialisation
        analysis = analyze(AnalysisRequest.of(name))
    # Inception v3's weights keep its training-only AuxLogits head, and their count with it.
    totals = analysis.totals
    assert (totals.params_with_training_only if name == "inception_v3" else totals.params) == figures.num_params
    gmacs = analysis.totals.macs / 1e9
    assert abs(gmacs - figures.gmacs) <= max(RELATIVE * figures.gmacs, ROUNDING), (gmacs, figures.gmacs)
