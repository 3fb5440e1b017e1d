"""Receptive fields beyond classic CNNs (channels-last blocks, tokens, attention, squeeze-
excitation) against a gradient oracle that shares no code with the engine, and against
hand derivations.

The oracle builds the model with random weights in float64 (eval mode, nothing
downloaded), runs a random input up to one layer, and takes the gradient of one unit of
that layer's output (one position of a map, one token) with respect to the input: the
pixels with a nonzero gradient are the ones the unit sees. Random weights, not the
positive constants of test_receptive_field's oracle: a layer norm over channels that are
all alike (as constant convolutions make them) has a zero gradient.
"""

import pytest
import torch
from torch import nn
from torchvision.models.convnext import CNBlockConfig, ConvNeXt
from torchvision.models.swin_transformer import SwinTransformer
from torchvision.models.vision_transformer import VisionTransformer

from cnnexplorer.analysis import analyze_module
from cnnexplorer.analysis.schema import to_dict
from cnnexplorer.render.summary import rf_cell
from tests.test_receptive_field import measured_field


class _Reached(Exception):
    """Raised by a forward hook to stop the pass once the measured layer has run."""


def seen_pixels(build, input_size: tuple[int, int, int], layer: str, unit) -> torch.Tensor:
    """Which input pixels (height x width) ``unit(output of layer)`` has a nonzero gradient on."""
    torch.manual_seed(0)
    model = build().double().eval().requires_grad_(False)
    captured = {}

    def stop(module, inputs, output):
        captured["output"] = output
        raise _Reached

    model.get_submodule(layer).register_forward_hook(stop)
    x = torch.randn((1, *input_size), dtype=torch.float64, requires_grad=True)
    with pytest.raises(_Reached):
        model(x)
    picked = unit(captured["output"])
    # Random weights over the unit's channels: a plain sum of a layer norm's outputs is constant.
    (picked * torch.randn_like(picked)).sum().backward()
    return x.grad[0].abs().sum(0) != 0


def extents(seen: torch.Tensor) -> tuple[tuple[int, int], tuple[int, int]]:
    """The first and last row, and the first and last column, that are seen."""
    rows = torch.nonzero(seen.any(1)).flatten()
    columns = torch.nonzero(seen.any(0)).flatten()
    return (int(rows.min()), int(rows.max())), (int(columns.min()), int(columns.max()))


def engine_fields(build, input_size: tuple[int, int, int]):
    with torch.device("meta"):
        model = build()
    return analyze_module(model, input_size)


def predicted(field, unit: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """The first and last input pixel, per axis, of unit ``(row, column)``'s field."""
    firsts = [field.start[a] + unit[a] * field.jump[a] for a in range(2)]
    return tuple((first, first + field.size[a] - 1) for a, first in enumerate(firsts))  # type: ignore[return-value]


# ConvNeXt: depthwise 7x7 convolutions in NCHW, LayerNorm and Linear channels-last ------------


def _small_convnext():
    # convnext_tiny's structure (4x4/4 stem, 7x7 depthwise, 2x2/2 downsampling) with few channels.
    return ConvNeXt([CNBlockConfig(8, 16, 3), CNBlockConfig(16, None, 3)], num_classes=10)


@pytest.mark.parametrize(("layer", "size", "jump"), [("features.1", 76, 4), ("features.3", 224, 8)])
def test_convnext_stages_match_the_gradient(layer, size, jump):
    input_size = (3, 256, 256)
    field = engine_fields(_small_convnext, input_size).node(layer).field
    assert field.exact, field.note
    assert (field.size, field.jump) == ((size, size), (jump, jump))
    unit = (256 // jump // 2, 256 // jump // 2)
    first_last = predicted(field, unit)
    assert all(0 <= first and last < 256 for first, last in first_last), "input too small to measure"
    seen = seen_pixels(_small_convnext, input_size, layer, lambda out: out[0, :, unit[0], unit[1]])
    assert extents(seen) == first_last


def test_convnext_tiny_by_hand(analysis_of):
    # Stem 4x4/4; three, three, nine and three blocks of a 7x7 depthwise conv (+6 x jump each);
    # 2x2/2 downsampling between stages.
    size, jump, expected = 4, 4, [("features.0", 4, 4)]
    for stage, (blocks, downsample) in enumerate([(3, "features.2"), (3, "features.4"), (9, "features.6"), (3, None)]):
        size += blocks * 6 * jump
        expected.append((f"features.{2 * stage + 1}", size, jump))
        if downsample:
            size, jump = size + jump, jump * 2
            expected.append((downsample, size, jump))
    analysis = analysis_of("convnext_tiny")
    got = [(path, analysis.node(path).field.largest, analysis.node(path).field.largest_jump) for path, _, _ in expected]
    assert got == expected
    assert expected[-1][1:] == (1688, 32)
    assert analysis.receptive_field.size == (1688, 1688) and analysis.receptive_field_exact
    assert all(n.receptive_field_exact for n in analysis.layers)


def test_permute_and_linear_channels_last_keep_the_field_exact():
    class ChannelsLast(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 5, stride=2)
            self.norm = nn.LayerNorm(8)
            self.linear = nn.Linear(8, 8)
            self.back = nn.Conv2d(8, 8, 3)

        def forward(self, x):
            x = self.linear(self.norm(self.conv(x).permute(0, 2, 3, 1)))
            return self.back(x.permute(0, 3, 1, 2))

    analysis = engine_fields(ChannelsLast, (3, 40, 40))
    assert analysis.node("linear").field.size == (5, 5) and analysis.node("linear").field.exact
    field = analysis.node("back").field
    assert (field.size, field.jump, field.exact) == ((9, 9), (2, 2), True)
    seen = seen_pixels(ChannelsLast, (3, 40, 40), "back", lambda out: out[0, :, 7, 7])
    assert extents(seen) == predicted(field, (7, 7))


# ViT: patches become tokens, attention mixes them all ------------------------------------------


def _tiny_vit():
    return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32)


def test_vit_tokens_see_their_patch_until_attention_then_everything():
    analysis = engine_fields(_tiny_vit, (3, 32, 32))
    patch = analysis.node("conv_proj").field
    assert (patch.size, patch.jump, patch.exact) == ((8, 8), (8, 8), True)
    # Token 1 + 4 * 1 + 2 is the patch at row 1, column 2 (after the class token).
    before = seen_pixels(_tiny_vit, (3, 32, 32), "encoder.dropout", lambda out: out[0, 7])
    assert extents(before) == ((8, 15), (16, 23)) == predicted(analysis.node("encoder.dropout").field, (1, 2))
    after = seen_pixels(_tiny_vit, (3, 32, 32), "encoder.layers.encoder_layer_0", lambda out: out[0, 7])
    assert after.all()
    assert analysis.node("encoder.layers.encoder_layer_0").field.whole
    assert not analysis.node("encoder.layers.encoder_layer_0.ln_1").field.whole
    assert analysis.receptive_field.whole and analysis.receptive_field_exact
    assert analysis.node("heads.head").field is None


def test_vit_b_16(analysis_of):
    analysis = analysis_of("vit_b_16")
    assert rf_cell(analysis.node("conv_proj").field) == "16"
    assert rf_cell(analysis.node("encoder.layers.encoder_layer_0").field) == "global"
    assert rf_cell(analysis.receptive_field) == "global" and analysis.receptive_field_exact
    layers = {record["path"]: record for record in to_dict(analysis)["layers"]}  # JSON says it too
    assert layers["encoder.layers.encoder_layer_0"]["receptive_field_global"] is True
    assert layers["conv_proj"]["receptive_field_global"] is False


# Swin: channels-last maps, window attention, shifted windows ------------------------------------


def _tiny_swin():
    # 64x64 input: maps of 16, 8 and 4 positions; windows of 4 (the last stage's map is one window).
    return SwinTransformer([4, 4], 8, [2, 2, 2], [1, 1, 1], [4, 4], num_classes=10)


def test_swin_window_attention_is_approximate_and_the_last_stage_global():
    analysis = engine_fields(_tiny_swin, (3, 64, 64))
    patch = analysis.node("features.0").field
    assert (patch.size, patch.jump, patch.exact) == ((4, 4), (4, 4), True)
    assert extents(seen_pixels(_tiny_swin, (3, 64, 64), "features.0", lambda out: out[0, 5, 5])) == ((20, 23), (20, 23))
    # The first block's window attention: position (5, 5) sees its window, positions 4 to 7.
    window = analysis.node("features.1.0").field
    assert not window.exact and "window attention" in window.note
    seen = seen_pixels(_tiny_swin, (3, 64, 64), "features.1.0", lambda out: out[0, 5, 5])
    assert extents(seen) == ((16, 31), (16, 31))
    assert window.size == (16, 16)  # the size is a window's; where it lies is not a sliding window's
    # Shifted windows: approximate, and said so.
    assert "aten.roll shifts positions cyclically (shifted windows)" in analysis.node("features.1.1").field.note
    # The last stage's window covers its whole map: global, and every pixel is seen.
    assert analysis.node("features.5.0").field.whole
    assert seen_pixels(_tiny_swin, (3, 64, 64), "features.5.0", lambda out: out[0, 1, 1]).all()
    assert not any(analysis.node(p).field.whole for p in ("features.1", "features.2", "features.3", "features.4"))
    assert analysis.receptive_field.whole


@pytest.mark.parametrize(("name", "last_windowed"), [("swin_t", "features.5"), ("swin_v2_t", "features.5")])
def test_swin_models_read_global_after_the_last_stage(name, last_windowed, analysis_of):
    analysis = analysis_of(name)
    assert rf_cell(analysis.node("features.0").field) == "4"
    assert rf_cell(analysis.node(last_windowed).field).startswith("≈")
    assert rf_cell(analysis.node("features.7").field) == "global"
    assert rf_cell(analysis.receptive_field) == "global"


# Squeeze-excitation: global pooling multiplied back onto the map -------------------------------


def test_squeeze_excitation_is_global_and_the_field_before_it_exact():
    from cnnexplorer.zoo import get

    build = lambda: get("mobilenet_v3_small").build(num_classes=10)  # noqa: E731
    input_size = (3, 64, 64)
    analysis = engine_fields(build, input_size)
    depthwise = analysis.node("features.1.block.0").field
    assert depthwise.exact and (depthwise.size, depthwise.jump) == ((7, 7), (4, 4))
    unit, *measured = measured_field(build(), input_size, "features.1.block.0")
    assert tuple(measured) == predicted(depthwise, unit)
    assert analysis.node("features.1.block.1").field.whole
    unit, *measured = measured_field(build(), input_size, "features.1")
    assert tuple(measured) == ((0, 63), (0, 63))
    assert analysis.receptive_field.whole


@pytest.mark.parametrize(
    ("name", "stem", "first_se"),
    [
        ("efficientnet_b0", "features.0", "features.1.0.block.1"),
        ("maxvit_t", "stem", "blocks.0.layers.0.layers.MBconv.layers.squeeze_excitation"),
        ("regnet_y_400mf", "stem", "trunk_output.block1.block1-0.f.se"),
    ],
)
def test_models_with_squeeze_excitation_read_global(name, stem, first_se, analysis_of):
    analysis = analysis_of(name)
    assert analysis.node(stem).field.exact and not analysis.node(stem).field.whole
    assert rf_cell(analysis.node(first_se).field) == "global"
    assert rf_cell(analysis.receptive_field) == "global"


@pytest.mark.parametrize("name", ["regnet_x_400mf", "inception_v3", "mobilenet_v2", "googlenet"])
def test_models_without_an_op_that_mixes_all_positions_keep_a_number(name, analysis_of):
    analysis = analysis_of(name)
    assert not analysis.receptive_field.whole and analysis.receptive_field_exact
    assert rf_cell(analysis.receptive_field).isdigit()


def test_group_norm_mixes_every_position():
    # Its statistics are taken over each group's whole map: every output sees every pixel.
    build = lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.GroupNorm(2, 4), nn.Conv2d(4, 4, 3))  # noqa: E731
    analysis = engine_fields(build, (3, 24, 24))
    assert analysis.node("0").field.size == (3, 3) and not analysis.node("0").field.whole
    assert analysis.node("1").field.whole and analysis.node("2").field.whole
    assert seen_pixels(build, (3, 24, 24), "1", lambda out: out[0, :, 11, 11]).all()


@pytest.mark.parametrize(
    "build",
    [
        lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(), nn.Linear(8, 2)),
        # Channels-last, as timm's and ConvNeXt's heads pool: the 1x1 axes lie before the channels.
        lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), _ChannelsLast(), nn.Flatten(), nn.Dropout()),
    ],
    ids=["channels-first", "channels-last"],
)
def test_a_flattened_global_pool_stays_global(build):
    # Every pooled value sees every pixel; so does each element of its flattened copy.
    flatten = next(str(i) for i, m in enumerate(build()) if isinstance(m, nn.Flatten))
    assert seen_pixels(build, (3, 20, 24), flatten, lambda out: out[0, 0]).all()
    analysis = engine_fields(build, (3, 20, 24))
    layers = {record["path"]: record for record in to_dict(analysis)["layers"]}
    for path in (flatten, str(int(flatten) + 1)):  # the flatten, and the dropout it feeds
        assert rf_cell(analysis.node(path).field) == "global"
        assert layers[path]["receptive_field_global"] is True
    assert analysis.receptive_field.size == (3, 3)  # the headline: the map before the pooling


def test_a_flattened_one_by_one_map_keeps_its_field():
    # A map that strides down to 1x1 (no global pooling): flattening keeps that unit's field.
    build = lambda: nn.Sequential(nn.Conv2d(3, 4, 5, stride=4), nn.Flatten(), nn.Linear(4, 2))  # noqa: E731
    analysis = engine_fields(build, (3, 5, 5))
    assert analysis.node("1").field.size == (5, 5) and not analysis.node("1").field.whole
    assert extents(seen_pixels(build, (3, 5, 5), "1", lambda out: out[0, 0])) == ((0, 4), (0, 4))


class _ChannelsLast(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1)
