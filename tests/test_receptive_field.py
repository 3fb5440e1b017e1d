"""Receptive fields against hand derivations (rf += (k-1)*jump; jump *= stride) and against
an empirical oracle that shares no code with the engine.

The oracle builds the real network in float64 with every convolution's weights set to
one positive constant, batch norm replaced by the identity and max-pooling by average
pooling of the same window, so that every path from an input pixel to an output unit
carries a positive weight (no cancellation, ReLUs pass everything). The gradient of one
output unit with respect to the input is then nonzero exactly on the pixels the unit
sees: its extent per axis is the unit's receptive field.
"""

import pytest
import torch
from torch import nn

from cnnexplorer.analysis import analyze_module
from cnnexplorer.zoo import get


def _chain(layers):
    rf, jump, out = 1, 1, []
    for kernel, stride in layers:
        rf += (kernel - 1) * jump
        jump *= stride
        out.append((rf, jump))
    return out


# The oracle ---------------------------------------------------------------------------------


class _Reached(Exception):
    """Raised by a forward hook to stop the pass once the measured layer has run."""


def _oracle_network(model: nn.Module) -> nn.Module:
    """``model`` in float64 with positive constant convolutions, identity batch norm and
    average pooling in place of max-pooling."""
    for name, module in list(model.named_modules()):
        replacement = None
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            replacement = nn.Identity()
        elif isinstance(module, nn.MaxPool2d):
            replacement = nn.AvgPool2d(module.kernel_size, module.stride, module.padding, module.ceil_mode)
        if replacement is not None:
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, replacement)
    model = model.double().eval().requires_grad_(False)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.fill_(1.0 / module.weight[0].numel())  # each output the mean of its window
                if module.bias is not None:
                    module.bias.zero_()
    return model


def measured_field(model: nn.Module, input_size: tuple[int, int, int], layer: str):
    """For the centre unit of ``layer``'s output: its index (row, column) and, per axis,
    the first and last input pixel with a nonzero gradient."""
    model = _oracle_network(model)
    captured = {}

    def stop(module, inputs, output):
        captured["output"] = output
        raise _Reached

    handle = model.get_submodule(layer).register_forward_hook(stop)
    x = torch.ones((1, *input_size), dtype=torch.float64, requires_grad=True)
    with pytest.raises(_Reached):
        model(x)
    handle.remove()
    output = captured["output"]
    row, column = output.shape[2] // 2, output.shape[3] // 2
    output[0, :, row, column].sum().backward()
    seen = x.grad[0].sum(0) != 0
    rows = torch.nonzero(seen.any(1)).flatten()
    columns = torch.nonzero(seen.any(0)).flatten()
    return (row, column), (int(rows.min()), int(rows.max())), (int(columns.min()), int(columns.max()))


def assert_matches_the_oracle(build, input_size: tuple[int, int, int], layer: str):
    """The engine's field of ``layer``'s output equals the measured one, axis by axis:
    size, jump and position (the unit's first and last pixel)."""
    with torch.device("meta"):
        analysed = build()
    field = analyze_module(analysed, input_size).node(layer).field
    unit, *extents = measured_field(build(), input_size, layer)
    for axis, (first, last) in enumerate(extents):
        predicted_first = field.start[axis] + unit[axis] * field.jump[axis]
        predicted_last = predicted_first + field.size[axis] - 1
        size = input_size[1 + axis]
        # The unit's whole field must lie inside the image, or the image clips what is measured.
        assert 0 <= predicted_first and predicted_last < size, f"input too small to measure axis {axis}"
        assert (first, last) == (predicted_first, predicted_last), f"axis {axis}"
    assert field.exact, field.note
    return field


# Against the oracle -------------------------------------------------------------------------


def test_cifar_resnet20_sees_81_pixels_at_a_jump_of_4():
    # x[:, :, ::2, ::2] in the shortcuts is two slices, one per axis: the jump doubles once per stage.
    field = assert_matches_the_oracle(get("resnet20").build, (3, 96, 96), "layer3")
    assert (field.size, field.jump) == ((81, 81), (4, 4))


def test_the_headline_is_the_last_blocks_output(analysis_of):
    analysis = analysis_of("resnet20")
    assert analysis.receptive_field == analysis.node("layer3").field
    assert (analysis.receptive_field.largest, analysis.receptive_field.largest_jump) == (81, 4)
    assert analysis.receptive_field_exact
    assert [analysis_of(f"resnet{d}").receptive_field.largest for d in (32, 44, 56, 110)] == [137, 193, 249, 501]


def test_a_non_square_input():
    field = assert_matches_the_oracle(get("resnet20").build, (3, 88, 120), "layer3")
    assert (field.size, field.jump) == ((81, 81), (4, 4))


def test_imagenet_resnet_with_strided_projection_shortcuts():
    field = assert_matches_the_oracle(lambda: get("resnet50").build(num_classes=10), (3, 288, 288), "layer3")
    assert (field.size, field.jump) == ((267, 267), (16, 16))


def test_googlenet_inception_branches_and_ceil_mode_pooling():
    # GoogLeNet's pools (3x3/2, ceil mode, no padding) put the field off the unit's centre.
    build = lambda: get("googlenet").build(num_classes=10)  # noqa: E731
    field = assert_matches_the_oracle(build, (3, 448, 448), "inception5b")
    assert (field.size, field.jump) == ((379, 379), (32, 32))


def test_densenet_concatenations():
    build = lambda: get("densenet121").build(num_classes=10)  # noqa: E731
    field = assert_matches_the_oracle(build, (3, 160, 160), "features.transition1")
    assert (field.size, field.jump) == ((63, 63), (8, 8))


class _Asymmetric(nn.Module):
    """Asymmetric kernels and strides, a slice of one axis, and two branches whose fields
    are centred differently (one is padded on one side only)."""

    def __init__(self) -> None:
        super().__init__()
        self.wide = nn.Conv2d(3, 4, (1, 5), stride=(2, 1), padding=(0, 2))
        self.tall = nn.Conv2d(4, 4, (3, 1), padding=(1, 0))
        self.shifted = nn.Conv2d(4, 4, 3)
        self.merge = nn.Identity()

    def forward(self, x):
        x = self.tall(self.wide(x))[:, :, :, 1::2]
        # Four columns to the left (two cut on the right), two rows at the bottom: same size as x.
        shifted = nn.functional.pad(self.shifted(x), (4, -2, 0, 2))
        return self.merge(x + shifted)


def test_asymmetric_kernels_one_axis_slices_and_off_centre_branches():
    field = assert_matches_the_oracle(_Asymmetric, (3, 40, 48), "merge")
    # Height, jump 2 (the stride): x sees rows -2..2 of unit 0, the shifted branch -2..6: union 9.
    # Width, jump 2 (the slice): x sees columns -1..3, the shifted branch -9..-1: union 13, where
    # the larger path alone sees 9.
    assert field.size == (9, 13) and field.jump == (2, 2) and field.start == (-2, -9)


# Hand derivations ---------------------------------------------------------------------------


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
    assert analysis.receptive_field.size == (212, 212) and analysis.receptive_field_exact


def test_torchvision_alexnet_conv_trunk(analysis_of):
    analysis = analysis_of("alexnet")
    trunk = [n for n in analysis.layers if n.path.startswith("features.") and n.type in ("Conv2d", "MaxPool2d")]
    expected = _chain([(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)])
    assert [(n.receptive_field, n.jump) for n in trunk] == expected
    assert expected[-1] == (195, 32)
    # AdaptiveAvgPool2d(6) on a 6x6 map is the identity; after flattening the field is undefined.
    assert analysis.node("avgpool").receptive_field == 195
    assert analysis.node("classifier.1").receptive_field is None
    assert analysis.receptive_field.largest == 195


def test_dilation_widens_the_field():
    with torch.device("meta"):
        model = nn.Sequential(nn.Conv2d(3, 8, 3, dilation=2), nn.Conv2d(8, 8, 3, stride=2), nn.Conv2d(8, 8, 3))
    analysis = analyze_module(model, (3, 32, 32))
    assert [n.receptive_field for n in analysis.layers[1:]] == [5, 7, 11]
    assert [n.jump for n in analysis.layers[1:]] == [1, 2, 2]


# Exactness and what is approximate ---------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "googlenet", "densenet121", "wrn-16-8", "densenet-bc-100"])
def test_branching_nets_are_exact(name, analysis_of):
    assert analysis_of(name).receptive_field_exact
    assert all(n.receptive_field_exact for n in analysis_of(name).layers if not n.training_only)


def test_uneven_adaptive_pooling_says_so(analysis_of):
    # 256x256 gives AlexNet a 7x7 map, which AdaptiveAvgPool2d(6) pools with windows of 2 and 3.
    analysis = analysis_of("alexnet", (3, 256, 256))
    assert analysis.node("features").receptive_field_exact
    assert not analysis.node("avgpool").receptive_field_exact
    assert analysis.node("avgpool").field.note == "adaptive pooling 7x7 to 6x6 has uneven windows"


def test_an_op_the_tracker_does_not_model_is_named():
    class Upsampled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return nn.functional.interpolate(self.conv(x), scale_factor=2)

    with torch.device("meta"):
        model = Upsampled()
    analysis = analyze_module(model, (3, 16, 16))
    assert analysis.node("conv").receptive_field_exact
    assert not analysis.receptive_field_exact
    assert "aten.upsample_nearest2d is not modelled" in analysis.receptive_field.note
