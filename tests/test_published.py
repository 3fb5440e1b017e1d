"""Our counts against torchvision's published figures (weights.meta, offline data)."""

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cnnexplorer import zoo
from cnnexplorer.zoo.published import paper_result, published
from cnnexplorer.zoo.registry import CIFAR10
from tests.test_zoo import TORCHVISION_NAMES


@pytest.mark.parametrize("name", TORCHVISION_NAMES)
def test_params_equal_and_macs_within_half_a_percent_of_torchvision(name, analysis_of):
    reference = published(zoo.get(name))
    analysis = analysis_of(name)
    # Our total leaves the training-only heads out. GoogLeNet's published count does too (its
    # weights drop the auxiliary classifiers); Inception v3's weights keep AuxLogits, and its count.
    totals = analysis.totals
    assert (totals.params_with_training_only if name == "inception_v3" else totals.params) == reference.num_params
    published_macs = reference.gmacs * 1e9
    assert abs(analysis.totals.macs - published_macs) / published_macs < 0.005


# Small models whose real forward on the CPU is quick; GoogLeNet for its training-only heads.
REAL_RUNS = ("resnet20", "densenet-bc-100", "wrn-16-8", "alexnet-2012-2gpu", "resnet18", "googlenet")
# The training-only heads by hand, from torchvision's forward methods (run only when self.training).
HEADS = {"googlenet": ("aux1", "aux2"), "inception_v3": ("AuxLogits",)}


@pytest.mark.parametrize("name", REAL_RUNS)
def test_macs_are_half_the_flops_of_a_real_flop_counter_run_on_the_cpu(name, analysis_of):
    # FlopCounterMode over a real forward (random weights and input, CPU tensors), in
    # training mode so that GoogLeNet's auxiliary heads run; their count from the counter's
    # own per-module figures.
    arch = zoo.get(name)
    torch.manual_seed(0)
    model = arch.build().train()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, *arch.input_size))
    per_module = counter.get_flop_counts()
    heads = sum(sum(per_module.get(f"{type(model).__name__}.{path}", {}).values()) for path in HEADS.get(name, ()))
    analysis = analysis_of(name)
    assert 2 * analysis.totals.macs == counter.get_total_flops() - heads
    assert 2 * analysis.totals.training_only_macs == heads
    assert heads > 0 or name not in HEADS


def formula_macs(node) -> int | None:
    """A convolution's or linear layer's MACs from its geometry: output elements x (input
    channels per group x kernel area), or x input features; None for other layers."""
    if node.type.startswith("Conv"):
        return math.prod(node.output_shape) * node.input_shape[1] // node.groups * math.prod(node.kernel_size)
    if node.type == "Linear":
        return math.prod(node.output_shape) * node.input_shape[-1]
    return None


@pytest.mark.parametrize("name", zoo.names())
def test_macs_equal_the_convolution_and_linear_formulas_layer_by_layer(name, analysis_of):
    # The zoo's multiply-accumulates are all in its convolutions and linear layers, each called once.
    analysis = analysis_of(name)
    leaves = [node for node in analysis.root.walk() if node.is_leaf and node.executed]
    weighted = {node.path: formula_macs(node) for node in leaves if formula_macs(node) is not None}
    assert weighted and all(analysis.node(path).calls == 1 for path in weighted)
    assert {node.path: node.macs for node in leaves if node.macs} == weighted
    inference = sum(macs for path, macs in weighted.items() if not analysis.node(path).training_only)
    assert analysis.totals.macs == inference


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
    assert paper_result(zoo.get("vgg16")) is None


# CIFAR-10 test error (%) as the papers' tables print it.
CIFAR10_ERRORS = {
    "resnet20": (8.75, "He et al. 2015, Table 6"), "resnet32": (7.51, "He et al. 2015, Table 6"),
    "resnet44": (7.17, "He et al. 2015, Table 6"), "resnet56": (6.97, "He et al. 2015, Table 6"),
    "resnet110": (6.43, "He et al. 2015, Table 6"),
    "wrn-28-10": (4.00, "Zagoruyko & Komodakis 2016, Table 5"),
    "wrn-16-8": (4.27, "Zagoruyko & Komodakis 2016, Table 5"),
    "densenet-bc-100": (4.51, "Huang et al. 2017, Table 2"),
}  # fmt: skip


def test_every_cifar_variant_has_its_papers_test_error():
    cifar = [arch.name for arch in zoo.ARCHITECTURES if arch.dataset == CIFAR10]
    assert sorted(cifar) == sorted(CIFAR10_ERRORS)
    for name, (error, source) in CIFAR10_ERRORS.items():
        result = paper_result(zoo.get(name))
        assert (result.dataset, result.top1_error, result.source) == ("CIFAR-10", error, source)
        assert result.acc1 == pytest.approx(100 - error)


def test_list_shows_the_cifar_figures_beside_the_imagenet_ones():
    from rich.console import Console

    from cnnexplorer.overview import ZooRow
    from cnnexplorer.render.overview import render_overview

    imagenet = ZooRow("resnet50", "ResNet", 2015, "ImageNet", (3, 224, 224), 25_557_032, 4_089_184_256, 76.13, 92.862)
    cifar = ZooRow("resnet20", "ResNet", 2015, "CIFAR-10", (3, 32, 32), 269_722, 40_551_040, None, None, 8.75, "He")
    console = Console(width=200, record=True)
    console.print(render_overview([imagenet, cifar]))
    text = " ".join(console.export_text().split())  # the caption wraps at the table's width
    assert "76.13 92.86" in text
    assert "91.25* -" in text and "CIFAR-10 top-1 accuracy" in text and "He et al. 2015 Table 6" in text


def test_list_fits_80_columns_and_names_the_weights_each_accuracy_belongs_to():
    from dataclasses import replace

    from rich.console import Console

    from cnnexplorer.overview import ZooRow
    from cnnexplorer.render.overview import render_overview

    resnet = ZooRow(
        "resnet50",
        "ResNet",
        2015,
        "ImageNet",
        (3, 224, 224),
        25_557_032,
        4_089_184_256,
        76.13,
        92.862,
        weights="IMAGENET1K_V1",
    )
    # vit_h_14's first (and only) weights are SWAG's, at 518x518: 1016.7 GMACs (torchvision's _ops: 1016.717)
    vit = ZooRow(
        "vit_h_14", "torchvision", 0, "ImageNet", (3, 518, 518), 632_045_800, 1_016_717_000_000, 88.552, 98.694
    )
    vit = replace(vit, name="mobilenet_v3_large", weights="IMAGENET1K_SWAG_E2E_V1")  # the longest name there is
    console = Console(width=80, record=True)
    console.print(render_overview([resnet, vit]))
    lines = console.export_text().splitlines()
    assert "…" not in "".join(lines) and max(map(len, lines)) <= 80
    assert "1017" in lines[3] and "e+" not in lines[3]
    legend = " ".join(" ".join(lines[4:]).split())
    assert "(weights IMAGENET1K_V1; mobilenet_v3_large: IMAGENET1K_SWAG_E2E_V1)" in legend


def test_summary_and_the_app_header_show_the_papers_figure(analysis_of):
    from cnnexplorer.analysis.schema import to_dict
    from cnnexplorer.app.widgets.model_header import published_phrase
    from cnnexplorer.render.summary import render_markdown

    analysis = analysis_of("resnet20")
    assert "published (He et al. 2015, Table 6): CIFAR-10 test error 8.75%" in render_markdown(analysis)
    paper = to_dict(analysis)["paper_result"]
    assert (paper["source"], paper["dataset"], paper["top1_error"]) == ("He et al. 2015, Table 6", "CIFAR-10", 8.75)
    assert to_dict(analysis_of("resnet50"))["paper_result"] is None
    assert published_phrase(zoo.get("resnet20")) == " · published error 8.75%"
    assert published_phrase(zoo.get("resnet50")) == " · published top-1 76.13%"
    assert published_phrase(zoo.get("alexnet-2012")) == ""


def test_the_published_figures_name_the_size_the_weights_were_trained_at(analysis_of):
    from torchvision.models import EfficientNet_B1_Weights

    from cnnexplorer.render.summary import render_markdown

    crop = EfficientNet_B1_Weights.IMAGENET1K_V1.transforms.keywords["crop_size"]  # 240, not 224
    assert f"published (torchvision IMAGENET1K_V1, {crop}x{crop}): top-1 78.64%" in render_markdown(
        analysis_of("efficientnet_b1")
    )
