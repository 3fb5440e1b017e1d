"""The engine's layer table against torchinfo's, as torchinfo's README uses it: real weights
on the CPU and a real forward pass. The engine records layer calls with its own hooks on the
meta device; torchinfo shares none of that code, so it is an independent oracle for every
module's output shape, parameter count and (for convolutions) MACs."""

from __future__ import annotations

import math

import pytest
import torch
import torchinfo
from torch import nn

from cnnexplorer import zoo
from tests.conftest import analysed

MODELS = ["resnet18", "googlenet", "densenet121", "mobilenet_v3_small", "convnext_tiny", "vit_b_16", "swin_t"]


@pytest.fixture(scope="module", params=MODELS)
def both(request):
    arch = zoo.get(request.param)
    model = arch.build().eval()
    with torch.no_grad():
        stats = torchinfo.summary(model, input_size=(1, *arch.input_size), depth=100, device="cpu", verbose=0)
    paths = {id(module): path for path, module in model.named_modules()}
    first_calls: dict[str, torchinfo.layer_info.LayerInfo] = {}
    for layer in stats.summary_list:
        first_calls.setdefault(paths[id(layer.module)], layer)
    return analysed(request.param), first_calls


def test_every_module_torchinfo_sees_has_its_shape_and_parameters(both):
    analysis, layers = both
    for path, layer in layers.items():
        node = analysis.paths.get(path)
        assert node is not None, f"{path} is missing from the engine's tree"
        assert list(node.output_shape) == list(layer.output_size), path
        assert node.params == layer.num_params, path


def test_convolution_macs_equal_torchinfos_less_the_bias_additions(both):
    # torchinfo counts a bias addition as one MAC per output element; the engine (like the
    # papers and torchvision's published GFLOPS) counts multiply-accumulates only.
    analysis, layers = both
    convolutions = [(path, layer) for path, layer in layers.items() if isinstance(layer.module, nn.Conv2d)]
    assert convolutions
    for path, layer in convolutions:
        bias_additions = math.prod(layer.output_size) if layer.module.bias is not None else 0
        assert analysis.paths[path].macs == layer.macs - bias_additions, path
