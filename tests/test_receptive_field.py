"""Receptive fields and jumps against hand derivations (rf += (k-1)*jump; jump *= stride)."""

import torch
from torch import nn

from cnnexplorer.analysis import analyze_module


def _chain(layers):
    rf, jump, out = 1, 1, []
    for kernel, stride in layers:
        rf += (kernel - 1) * jump
        jump *= stride
        out.append((rf, jump))
    return out


def test_vgg16_conv_trunk(analysis_of):
    analysis = analysis_of("vgg16")
    spec = []
    for convs in (2, 2, 3, 3, 3):
        spec += [(3, 1)] * convs + [(2, 2)]
    expected = _chain(spec)
    trunk = [n for n in analysis.layers if n.path.startswith("features.") and n.type in ("Conv2d", "MaxPool2d")]
    assert [(n.receptive_field, n.jump) for n in trunk] == expected
    assert expected[-1] == (212, 32)
    assert all(n.receptive_field_exact for n in trunk)


def test_torchvision_alexnet_conv_trunk(analysis_of):
    analysis = analysis_of("alexnet")
    trunk = [n for n in analysis.layers if n.path.startswith("features.") and n.type in ("Conv2d", "MaxPool2d")]
    expected = _chain([(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)])
    assert [(n.receptive_field, n.jump) for n in trunk] == expected
    assert expected[-1] == (195, 32)
    # AdaptiveAvgPool2d(6) on a 6x6 map is the identity; after flattening the field is undefined.
    assert analysis.node("avgpool").receptive_field == 195
    assert analysis.node("classifier.1").receptive_field is None


def test_dilation_widens_the_field():
    with torch.device("meta"):
        model = nn.Sequential(nn.Conv2d(3, 8, 3, dilation=2), nn.Conv2d(8, 8, 3, stride=2), nn.Conv2d(8, 8, 3))
    analysis = analyze_module(model, (3, 32, 32))
    assert [n.receptive_field for n in analysis.layers[1:]] == [5, 7, 11]
    assert [n.jump for n in analysis.layers[1:]] == [1, 2, 2]


def test_residual_nets_report_an_upper_bound(analysis_of):
    analysis = analysis_of("resnet18")
    # Before the first block the path is a chain: conv 7x7/2 then max-pool 3x3/2.
    assert (analysis.node("maxpool").receptive_field, analysis.node("maxpool").jump) == (11, 4)
    assert analysis.node("maxpool").receptive_field_exact
    block = analysis.node("layer1.0")
    # Longest path through the block: two 3x3 convs at jump 4.
    assert block.receptive_field == 11 + 2 * 4 + 2 * 4
    assert not block.receptive_field_exact


def test_googlenet_and_densenet_are_marked_as_upper_bounds(analysis_of):
    assert not analysis_of("googlenet").receptive_field_exact
    assert not analysis_of("densenet121").receptive_field_exact
    assert analysis_of("vgg19").receptive_field_exact
