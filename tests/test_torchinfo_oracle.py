"""The engine's layer table against torchinfo's, as torchinfo's README uses it: real weights
on the CPU and a real forward pass. The engine records layer calls with its own hooks on the
meta device; torchinfo shares none of that code, so it is an independent oracle for every
module's output shape, parameter count and (for convolutions) MACs. The same real-CPU runs
are the oracle of ``summary --format torchinfo`` and of the torchinfo figures the summary table
and the app show, which torchinfo computes on the meta device."""

from __future__ import annotations

import math
import re
from collections import defaultdict

import pytest
import torch
import torchinfo
from torch import nn

from cnnexplorer import zoo
from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.analysis.torchinfo_view import torchinfo_figures
from cnnexplorer.cli import main
from tests.conftest import analysed

MODELS = ["resnet18", "googlenet", "densenet121", "mobilenet_v3_small", "convnext_tiny", "vit_b_16", "swin_t"]
# How `summary --format torchinfo` asks torchinfo to print (its columns; the width of each).
PRINTED = {"col_names": ("output_size", "num_params", "mult_adds"), "col_width": 20, "row_settings": ("var_names",)}


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
    return analysed(request.param), first_calls, stats, paths


def test_every_module_torchinfo_sees_has_its_shape_and_parameters(both):
    analysis, layers, _, _ = both
    for path, layer in layers.items():
        node = analysis.paths.get(path)
        assert node is not None, f"{path} is missing from the engine's tree"
        assert list(node.output_shape) == list(layer.output_size), path
        assert node.params == layer.num_params, path


def test_convolution_macs_equal_torchinfos_less_the_bias_additions(both):
    # torchinfo counts a bias addition as one MAC per output element; the engine (like the
    # papers and torchvision's published GFLOPS) counts multiply-accumulates only.
    analysis, layers, _, _ = both
    convolutions = [(path, layer) for path, layer in layers.items() if isinstance(layer.module, nn.Conv2d)]
    assert convolutions
    for path, layer in convolutions:
        bias_additions = math.prod(layer.output_size) if layer.module.bias is not None else 0
        assert analysis.paths[path].macs == layer.macs - bias_additions, path


def test_torchinfos_figures_on_the_meta_device_equal_a_real_cpu_run_layer_by_layer(both, tmp_path, monkeypatch):
    # What the summary table and the app's details show: torchinfo run on the meta device.
    monkeypatch.setenv("CNNEXPLORER_CACHE_DIR", str(tmp_path))  # computed here, not read back
    analysis, _, stats, paths = both
    real: dict[str, int] = defaultdict(int)
    for layer in stats.summary_list:
        if layer.is_leaf_layer:
            real[paths[id(layer.module)]] += layer.macs  # over every call of the layer
    figures = torchinfo_figures(analysis.request)
    meta = {layer.path: layer.mult_adds for layer in figures.layers if layer.leaf}
    assert meta == dict(real)
    assert figures.total_mult_adds == stats.total_mult_adds


def _real_cpu_summary(name: str, input_size=None, batch: int = 1, dtype=torch.float32, depth: int = 3):
    arch = zoo.get(name)
    torch.manual_seed(0)
    model = arch.build().to(dtype)
    x = torch.randn(batch, *(input_size or arch.input_size)).to(dtype)
    return torchinfo.summary(model, input_data=x, device="cpu", depth=depth, verbose=0, **PRINTED)


@pytest.mark.parametrize(
    ("name", "options", "oracle"),
    [
        ("resnet18", [], {}),
        ("googlenet", [], {}),
        ("densenet121", [], {}),
        ("alexnet", ["--depth", "1"], {"depth": 1}),
        (
            "resnet18",
            ["--input", "3x160x128", "--batch", "2", "--dtype", "bfloat16", "--depth", "2"],
            {"input_size": (3, 160, 128), "batch": 2, "dtype": torch.bfloat16, "depth": 2},
        ),
    ],
    ids=["resnet18", "googlenet", "densenet121", "alexnet-depth1", "resnet18-3x160x128-b2-bf16-depth2"],
)
def test_format_torchinfo_prints_what_torchinfo_prints_for_the_real_model(name, options, oracle, capsys):
    assert main(["summary", name, "--format", "torchinfo", *options]) == 0
    printed = capsys.readouterr().out
    real = _real_cpu_summary(name, **oracle)
    assert str(real) in printed  # every row, the totals, the sizes in MB: all as torchinfo prints them
    assert re.search(r"^Total params: ([\d,]+)$", printed, re.M).group(1) == f"{real.total_params:,}"
    assert f"Total mult-adds: {real.total_mult_adds:,} " in printed  # unrounded, in our last line
    request = AnalysisRequest.of(name, oracle.get("input_size"), oracle.get("batch", 1))
    assert f"input {'x'.join(map(str, request.input_size))}, batch {request.batch}" in printed.splitlines()[0]
