"""The alignment of two architectures, checked against what is known of the real pairs."""

import functools

import pytest

from cnnexplorer.analysis import AnalysisRequest, analyze
from cnnexplorer.diff import STATUSES, Diff, diff_analyses, diff_models, visible_rows
from cnnexplorer.errors import UsageError
from tests.conftest import analysed


@functools.cache
def diffed(left: str, right: str) -> Diff:
    return diff_analyses(analysed(left), analysed(right))


def leaf_rows(diff: Diff, status: str | None = None) -> list:
    return [row for row in diff.rows if row.is_leaf and (status is None or row.status == status)]


def conv_params(cin: int, cout: int, k: int) -> int:
    return cin * cout * k * k + cout


PAIRS = [
    ("vgg16", "vgg19"),
    ("resnet18", "resnet34"),
    ("resnet50", "wide_resnet50_2"),
    ("alexnet", "alexnet-2012"),
    ("densenet121", "densenet169"),
]


@pytest.mark.parametrize(("left", "right"), PAIRS)
def test_every_executed_layer_of_each_side_appears_exactly_once(left, right):
    diff = diffed(left, right)
    for side, analysis in (("left", diff.left), ("right", diff.right)):
        paths = [getattr(row, side).path for row in diff.rows if getattr(row, side) is not None]
        assert sorted(paths) == sorted(n.path for n in analysis.layers if n.path)


@pytest.mark.parametrize(("left", "right"), PAIRS)
def test_rows_are_consistent_with_their_status(left, right):
    for row in diffed(left, right).rows:
        assert row.status in STATUSES
        assert (row.left is None) == (row.status == "added")
        assert (row.right is None) == (row.status == "removed")
        assert bool(row.changes) == (row.status == "changed")
        if row.status in ("added", "removed"):  # a one-sided container brings its subtree
            assert all(child.status == row.status for child in row.walk())


@pytest.mark.parametrize(("left", "right"), PAIRS)
def test_totals_are_both_sides_totals(left, right):
    diff = diffed(left, right)
    assert diff.totals["params"].left == analysed(left).totals.params
    assert diff.totals["params"].delta == analysed(right).totals.params - analysed(left).totals.params
    assert diff.totals["weight_layers"].delta == (
        analysed(right).totals.weight_layers - analysed(left).totals.weight_layers
    )
    top = [row for row in diff.rows if row.depth == 1]
    assert sum(row.params_delta for row in top) == diff.totals["params"].delta
    assert sum(row.macs_delta for row in top) == diff.totals["macs"].delta


@pytest.mark.parametrize("name", ["alexnet", "vgg16_bn", "googlenet", "resnet50", "densenet121", "wrn-28-10"])
def test_a_model_against_itself_is_identical(name):
    # Two independent analyses, so that identity of objects cannot make rows equal.
    diff = diff_analyses(analyze(AnalysisRequest.of(name)), analyze(AnalysisRequest.of(name)))
    assert {row.status for row in diff.rows} == {"same"}
    assert all(total.delta == 0 for total in diff.totals.values())
    assert visible_rows(diff, only_diff=True) == []


def test_vgg16_to_vgg19_is_three_inserted_conv_relu_pairs_in_stages_3_to_5():
    diff = diffed("vgg16", "vgg19")
    assert leaf_rows(diff, "changed") == [] and leaf_rows(diff, "removed") == []
    added = leaf_rows(diff, "added")
    assert [row.right.type for row in added] == ["Conv2d", "ReLU"] * 3
    convs = added[::2]
    # Stage 3 works at 56x56 with 256 filters, stages 4 and 5 at 28x28 and 14x14 with 512.
    assert [row.right.output_shape[1:] for row in convs] == [(256, 56, 56), (512, 28, 28), (512, 14, 14)]
    assert all(row.right.kernel_size == (3, 3) for row in convs)
    for conv, relu in zip(added[::2], added[1::2]):  # each ReLU right after its convolution
        assert int(relu.right.name) == int(conv.right.name) + 1
    assert diff.totals["params"].delta == conv_params(256, 256, 3) + 2 * conv_params(512, 512, 3)
    assert diff.totals["weight_layers"].delta == 3
    assert [(row.node.path, row.status) for row in diff.rows if row.depth == 1] == [
        ("features", "changed"), ("avgpool", "same"), ("classifier", "same")
    ]  # fmt: skip


def test_vgg_inserted_layers_go_at_the_end_of_their_stage():
    added = leaf_rows(diffed("vgg16", "vgg19"), "added")
    features = diffed("vgg16", "vgg19").right.node("features").children
    for relu in added[1::2]:
        following = features[int(relu.right.name) + 1]
        assert following.type == "MaxPool2d"


def test_vgg19_to_vgg16_is_the_same_layers_removed():
    diff = diffed("vgg19", "vgg16")
    removed = leaf_rows(diff, "removed")
    assert [row.left.type for row in removed] == ["Conv2d", "ReLU"] * 3
    assert leaf_rows(diff, "added") == [] and leaf_rows(diff, "changed") == []


def test_resnet18_to_resnet34_adds_basic_blocks_at_the_end_of_each_stage():
    diff = diffed("resnet18", "resnet34")
    blocks_18, blocks_34 = (2, 2, 2, 2), (3, 4, 6, 3)
    for stage, (n18, n34) in enumerate(zip(blocks_18, blocks_34), start=1):
        rows = [row for row in diff.rows if row.depth == 2 and row.node.path.startswith(f"layer{stage}.")]
        assert [row.status for row in rows] == ["same"] * n18 + ["added"] * (n34 - n18)
        assert [row.right.path for row in rows] == [f"layer{stage}.{i}" for i in range(n34)]
        assert all(row.right.type == "BasicBlock" for row in rows)
        assert [row.left.path for row in rows[:n18]] == [f"layer{stage}.{i}" for i in range(n18)]
    assert leaf_rows(diff, "changed") == [] and leaf_rows(diff, "removed") == []
    assert diff.totals["weight_layers"].delta == 2 * (sum(blocks_34) - sum(blocks_18))


def test_resnet50_to_wide_resnet50_2_doubles_every_bottleneck_width_without_insertions():
    diff = diffed("resnet50", "wide_resnet50_2")
    assert {row.status for row in diff.rows} == {"same", "changed"}
    widths = {1: 64, 2: 128, 3: 256, 4: 512}
    blocks = {1: 3, 2: 4, 3: 6, 4: 3}
    changed_convs = [row for row in leaf_rows(diff, "changed") if row.node.type == "Conv2d"]
    assert len(changed_convs) == 3 * sum(blocks.values())  # conv1, conv2 and conv3 of every block
    for stage, width in widths.items():
        for block in range(blocks[stage]):
            prefix = f"layer{stage}.{block}."
            rows = {row.node.path.removeprefix(prefix): row for row in diff.rows if row.node.path.startswith(prefix)}
            assert rows["conv1"].changes["out_channels"] == (width, 2 * width)
            assert rows["conv2"].changes == {"channels": (width, 2 * width)}
            assert rows["conv3"].changes == {"in_channels": (width, 2 * width)}
            assert rows["bn3"].status == "same"
            assert all(row.status == "same" for path, row in rows.items() if path.startswith("downsample"))


def test_alexnet_to_alexnet_2012_changes_filter_counts_and_adds_lrn():
    diff = diffed("alexnet", "alexnet-2012")
    convs = {row.right.name: row for row in diff.rows if row.right is not None and row.right.type == "Conv2d"}
    # torchvision's 64/192/384/256/256 filters against the paper's 96/256/384/384/256.
    assert convs["conv1"].changes["out_channels"] == (64, 96)
    assert convs["conv2"].changes["out_channels"] == (192, 256)
    assert convs["conv4"].changes["out_channels"] == (256, 384)
    assert "out_channels" not in convs["conv3"].changes and "out_channels" not in convs["conv5"].changes
    assert all(row.status == "changed" for row in convs.values())
    added = [row.right.type for row in leaf_rows(diff, "added")]
    assert added.count("LocalResponseNorm") == 2
    assert [row.left.type for row in leaf_rows(diff, "removed")] == ["AdaptiveAvgPool2d", "Dropout"]
    assert all(row.left is not None for row in diff.rows if row.node.type == "Linear")  # FCs pair up


def test_densenet121_to_densenet169_adds_dense_layers_to_blocks_3_and_4():
    diff = diffed("densenet121", "densenet169")
    by_path = {row.node.path: row for row in diff.rows}
    for name in ("denseblock1", "denseblock2", "transition1", "transition2"):
        assert by_path[f"features.{name}"].status == "same"
    for block, (n121, n169) in {3: (24, 32), 4: (16, 32)}.items():
        layers = [row for row in by_path[f"features.denseblock{block}"].children]
        assert [row.status for row in layers][n121:] == ["added"] * (n169 - n121)
        assert [row.right.name for row in layers] == [f"denselayer{i}" for i in range(1, n169 + 1)]
        assert all(row.left.name == row.right.name for row in layers[:n121])
    # Block 3 starts from the same 512 channels: its shared layers are identical. Block 4
    # starts from 640 channels instead of 512, so every shared layer sees 128 more.
    assert {row.status for row in by_path["features.denseblock3"].children[:24]} == {"same"}
    block4 = by_path["features.denseblock4"].children
    assert [row.status for row in block4[:16]] == ["changed"] * 16
    assert by_path["features.denseblock4.denselayer1.conv1"].changes == {"in_channels": (512, 640)}
    # A dense layer's input is the concatenation of everything before it in its block.
    assert by_path["features.denseblock4.denselayer2"].changes["in_channels"] == (512 + 32, 640 + 32)
    assert by_path["features.transition3"].changes["out_channels"] == (512, 640)
    assert diff.totals["weight_layers"].delta == 2 * (8 + 16)


def test_swapping_sides_swaps_added_and_removed():
    diff = diffed("resnet18", "resnet34").swapped()
    assert diff.left.name == "resnet34"
    assert {row.status for row in diff.rows if row.is_leaf} == {"same", "removed"}
    assert diff.totals["params"].delta < 0


def test_default_view_opens_only_what_differs():
    diff = diffed("resnet18", "resnet34")
    rows = visible_rows(diff)
    assert [row.node.path for row in rows if row.depth == 1][:5] == ["conv1", "bn1", "relu", "maxpool", "layer1"]
    assert max(row.depth for row in rows) == 2  # the blocks, not their layers
    assert sum(row.status == "added" for row in rows) == 1 + 2 + 4 + 1
    only = visible_rows(diff, only_diff=True)
    assert [row.status for row in only].count("same") == 0
    assert [row.node.path for row in only if row.status == "changed"] == ["layer1", "layer2", "layer3", "layer4"]
    assert {row.depth for row in visible_rows(diff, depth=1)} == {1}
    assert max(row.depth for row in visible_rows(diff, depth=3)) == 3


def test_an_input_one_side_cannot_take_names_the_side_and_the_layer():
    with pytest.raises(UsageError, match=r"^right \(alexnet-2012\): .*features\.pool3"):
        diff_models(AnalysisRequest.of("alexnet", (3, 63, 63)), AnalysisRequest.of("alexnet-2012", (3, 63, 63)))
    with pytest.raises(UsageError, match=r"^left \(alexnet-2012\): "):
        diff_models(AnalysisRequest.of("alexnet-2012", (3, 63, 63)), AnalysisRequest.of("alexnet", (3, 63, 63)))


def test_an_explicit_input_applies_to_both_sides():
    diff = diff_models(AnalysisRequest.of("alexnet", (3, 227, 227)), AnalysisRequest.of("alexnet-2012", (3, 227, 227)))
    assert diff.left.input_size == diff.right.input_size == (3, 227, 227)


def _chain(**layers):
    from collections import OrderedDict

    from torch import nn

    from cnnexplorer.analysis import analyze_module

    with __import__("torch").device("meta"):
        model = nn.Sequential(
            OrderedDict((name, nn.Conv2d(*channels, 3, padding=1)) for name, channels in layers.items())
        )
    return analyze_module(model, (8, 16, 16))


def test_a_layer_inserted_among_identical_ones_keeps_the_names_paired():
    diff = diff_analyses(_chain(conv1=(8, 8), conv2=(8, 8)), _chain(conv1=(8, 8), extra=(8, 8), conv2=(8, 8)))
    assert [(row.status, row.node.name) for row in diff.rows] == [
        ("same", "conv1"), ("added", "extra"), ("same", "conv2")
    ]  # fmt: skip


def test_a_widened_layer_is_one_changed_row_not_a_removal_and_an_insertion():
    diff = diff_analyses(_chain(a=(8, 8), b=(8, 8)), _chain(a=(8, 16), b=(16, 8)))
    assert [row.status for row in diff.rows] == ["changed", "changed"]
    assert diff.rows[0].changes == {"out_channels": (8, 16)}
    assert diff.rows[1].changes == {"in_channels": (8, 16)}
