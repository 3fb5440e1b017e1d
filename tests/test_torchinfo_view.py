"""torchinfo beside the engine: the reasons its Mult-Adds differ from the MACs, on a model whose
figures are worked out by hand; the summary table's column; the cache; errors; the app's details."""

from __future__ import annotations

import os
import subprocess
import sys

import msgspec
import pytest

from cnnexplorer import disk_cache
from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.analysis.store import analyze_on
from cnnexplorer.analysis.torchinfo_view import KIND, REASONS, compare, entry_key, torchinfo_figures
from cnnexplorer.app import make_app
from cnnexplorer.app.widgets.details import DetailsPanel
from cnnexplorer.cli import main
from cnnexplorer.render.summary import render_table
from cnnexplorer.render.torchinfo import REASON_CODES, REASON_TEXT
from tests.conftest import analysed, assert_usage_error, run_cli, settle

# A convolution with a bias, batch norm, a functional add, a linear layer applied at every
# position (token), a matrix product in the forward itself, and a linear layer with a bias.
TINY = """
import torch
from torch import nn


class Tiny(nn.Module):
    input_size = (3, 8, 8)

    def __init__(self, num_classes=2):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.mix = nn.Linear(8, 8, bias=False)
        self.proj = nn.Parameter(torch.ones(8, 4))
        self.fc = nn.Linear(4, num_classes)

    def forward(self, x):
        y = self.bn(self.conv(x))
        y = y + y.relu()  # a functional add: no MACs in either count
        tokens = self.mix(y.flatten(2).transpose(1, 2))  # (N, 64 positions, 8)
        return self.fc(tokens.mean(1) @ self.proj)  # a matmul torchinfo cannot see
"""

# By hand, at batch 2 (N = 2; the conv's output 8x8x8):
#   conv: ours N·8·8·8 × 3·3·3 = 27,648; torchinfo (3·3·3·8 + 8) params × N·8·8 = 224 × 128 = 28,672
#         (the 8 biases × N·8·8 = 1,024 = the output's elements)
#   bn:   ours 0; torchinfo N × 16 params = 32
#   mix:  ours N·64 positions × 8·8 = 8,192; torchinfo N × 64 params = 128
#   fc:   ours N × 4·2 = 16; torchinfo N × (8 + 2) params = 20
#   root: ours + the matmul N × 8·4 = 64: 27,648 + 8,192 + 64 + 16 = 35,920; torchinfo 28,672 + 32 + 128 + 20 = 28,852
EXPECTED = {
    "conv": (27_648, 28_672, ("bias",)),
    "bn": (0, 32, ("normalisation",)),
    "mix": (8_192, 128, ("positions",)),
    "fc": (16, 20, ("bias",)),
    "": (35_920, 28_852, ("bias", "normalisation", "positions", "functional")),
}


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text(TINY)
    return f"{path}:Tiny"


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(disk_cache.CACHE_DIR_VARIABLE, str(folder))
    monkeypatch.setattr(disk_cache, "_enabled", True)
    return folder


def test_each_difference_is_the_hand_derived_one_with_its_reason(tiny):
    request = AnalysisRequest.of(tiny, batch=2)
    comparisons = compare(analyze_on(request), torchinfo_figures(request))
    found = {path: (c.macs, c.torchinfo, c.reasons) for path, c in comparisons.items() if path in EXPECTED}
    assert found == EXPECTED


def test_the_table_shows_torchinfos_figures_beside_the_macs_with_a_legend(tiny, capsys):
    assert main(["summary", tiny, "--batch", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("layer"))
    assert header.split() == ["layer", "type", "output", "params", "MACs", "torchinfo", "MACs%", "RF"]
    rows = {line.split()[0]: line.split() for line in lines[lines.index(header) + 2 :] if line[:1].isalpha()}
    assert rows["conv"][4:7] == ["27.6K", "28.7K", "b"]
    assert rows["bn"][4:7] == ["-", "32", "n"]
    assert rows["mix"][4:7] == ["8.19K", "128", "p"]
    assert rows["fc"][4:7] == ["16", "20", "b"]
    legend = lines[lines.index("torchinfo: its Mult-Adds where they differ from the MACs, because") + 1 :]
    assert legend == [f"  {REASON_CODES[r]}: {REASON_TEXT[r]}" for r in ("bias", "normalisation", "positions")]


def test_every_reason_has_a_code_and_words():
    assert tuple(REASON_TEXT) == tuple(REASON_CODES) == REASONS
    assert len(set(REASON_CODES.values())) == len(REASONS)


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "vgg16_bn", "mobilenet_v3_small", "vit_b_16"])
def test_every_difference_in_the_zoo_is_explained_and_adds_up(name):
    analysis = analysed(name)
    comparisons = compare(analysis, torchinfo_figures(analysis.request))
    assert comparisons[""].torchinfo == torchinfo_figures(analysis.request).total_mult_adds
    for path, comparison in comparisons.items():
        node = analysis.paths[path]
        assert comparison.differs == bool(comparison.reasons), path
        assert "formula" not in comparison.reasons, path
        # The two reasons of CNNs, checked against the engine's own shapes and parameters:
        if node.is_leaf and comparison.reasons == ("bias",) and node.kernel_size is not None:
            assert comparison.torchinfo - comparison.macs == node.calls * _elements(node.output_shape), path
        if node.is_leaf and comparison.reasons == ("normalisation",):
            assert comparison.torchinfo == node.calls * analysis.batch * node.params, path
    assert not any(analysis.paths[path].training_only for path in comparisons)  # eval mode skips the heads


def _elements(shape) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def test_at_80_columns_the_column_gives_way_to_a_note_and_no_name_is_cut():
    analysis = analysed("resnet50")
    comparisons = compare(analysis, torchinfo_figures(analysis.request))
    narrow, wide = (_text(render_table(analysis, None, comparisons, width), width) for width in (80, 120))
    assert "torchinfo " not in narrow.splitlines()[8] and "…" not in narrow
    assert "downsample" in narrow
    assert "differ from the MACs on " in narrow and "n: it counts normalisation" in narrow
    header = next(line for line in wide.splitlines() if line.startswith("layer"))
    assert "torchinfo" in header and "…" not in wide


def _text(renderable, width: int) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, file=open(os.devnull, "w"))
    console.print(renderable)
    return console.export_text()


def test_figures_are_kept_in_the_cache_as_data_and_a_wrong_entry_is_a_miss(private_cache):
    request = AnalysisRequest.of("resnet18")
    computed = torchinfo_figures(request)
    (entry,) = private_cache.glob(f"{KIND}-*.json")
    assert torchinfo_figures(request) == computed  # read back equal
    # Well-formed entries (as a hostile writer could store them) whose figures are wrong:
    for change in (
        lambda layers: layers[1].update(mult_adds=layers[1]["mult_adds"] + 1000),  # not adding up to the total
        lambda layers: layers[1].update(bias_mult_adds=-5),  # out of range
        lambda layers: layers[1].update(path={"__import__": "os"}),  # of another type
    ):
        crafted = msgspec.to_builtins(computed)
        change(crafted["layers"])
        assert disk_cache.save(KIND, entry_key(request), {"figures": crafted})
        assert torchinfo_figures(request) == computed  # recomputed, not trusted
        assert disk_cache.load(KIND, entry_key(request))["figures"] == msgspec.to_builtins(computed)  # rewritten
    entry.write_bytes(entry.read_bytes().replace(b'"mult_adds":', b'"mult_adds":1', 1))  # an edited file
    assert torchinfo_figures(request) == computed


def test_a_summary_table_on_a_warm_cache_never_imports_torch(tmp_path):
    env = {**os.environ, disk_cache.CACHE_DIR_VARIABLE: str(tmp_path / "cache"), "COLUMNS": "120"}
    first = subprocess.run(
        [sys.executable, "-m", "cnnexplorer", "summary", "alexnet"], capture_output=True, text=True, env=env
    )
    again = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cnnexplorer", "summary", "alexnet"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert first.returncode == again.returncode == 0, again.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in again.stderr.splitlines() if line.startswith("import")}
    assert "cnnexplorer.cli" in imported and not imported & {"torch", "torchinfo"}
    assert again.stdout == first.stdout and "  b: it counts bias additions" in again.stdout


DATA_DEPENDENT = """
from torch import nn


class Branchy(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.fc = nn.Linear(3 * 224 * 224, num_classes)

    def forward(self, x):
        if x.sum() > 0:  # needs values
            x = x * 2
        return self.fc(x.flatten(1))
"""

ODD_OUTPUT = '''
from torch import nn


class Odd(nn.Module):
    """A layer whose output torchinfo cannot size (an object that is not a tensor or a sequence)."""

    def forward(self, x):
        return type("Box", (), {"value": x})()


class Net(nn.Module):
    input_size = (3, 8, 8)

    def __init__(self, num_classes=2):
        super().__init__()
        self.odd = Odd()
        self.fc = nn.Linear(3 * 8 * 8, num_classes)

    def forward(self, x):
        return self.fc(self.odd(x).value.flatten(1))
'''


def test_format_torchinfo_errors_are_one_line(tmp_path):
    (tmp_path / "branchy.py").write_text(DATA_DEPENDENT)
    (tmp_path / "odd.py").write_text(ODD_OUTPUT)
    result = run_cli("summary", f"{tmp_path / 'branchy.py'}:Branchy", "--format", "torchinfo")
    assert_usage_error(result, "cannot run on the meta device")
    result = run_cli("summary", f"{tmp_path / 'odd.py'}:Net", "--format", "torchinfo")
    assert_usage_error(result, "torchinfo cannot summarise")
    # The table still prints, without the column, and says why in one line.
    result = run_cli("summary", f"{tmp_path / 'odd.py'}:Net")
    header = next(line for line in result.stdout.splitlines() if line.startswith("layer"))
    assert result.returncode == 0 and "torchinfo" not in header
    assert (
        [line for line in result.stderr.splitlines() if line]
        == [
            line
            for line in result.stderr.splitlines()
            if line.startswith("note: no torchinfo column: torchinfo cannot")
        ]
        != []
    )


def test_format_torchinfo_takes_cpu_for_a_model_that_needs_values(tmp_path):
    (tmp_path / "branchy.py").write_text(DATA_DEPENDENT)
    result = run_cli("summary", f"{tmp_path / 'branchy.py'}:Branchy", "--format", "torchinfo", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "on the CPU" in result.stdout.splitlines()[0]
    assert f"Total mult-adds: {3 * 224 * 224 * 10 + 10:,} " in result.stdout  # weights and bias, once per sample


async def test_the_details_panel_shows_torchinfos_figure_or_that_it_is_the_same(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        details = app.screen.query_one(DetailsPanel)
        await pilot.press("tab", "down")  # conv1: no bias, so torchinfo counts what the engine counts
        await settle(pilot)
        assert details.node.path == "conv1"
        assert _panel_text(details).count("torchinfo       same as torchinfo's Mult-Adds") == 1
        await pilot.press("down")  # bn1: 64 channels' scale and shift, batch 1
        await settle(pilot)
        assert details.node.path == "bn1"
        assert "torchinfo       Mult-Adds 128 (differs: it counts normalisation's scale and shift" in _panel_text(
            details
        )


def _panel_text(panel) -> str:
    from rich.console import Console

    console = Console(width=120, record=True, file=open(os.devnull, "w"))
    console.print(panel.content)
    return console.export_text()


async def test_the_details_panel_says_why_torchinfo_is_not_there(tmp_path):
    (tmp_path / "odd.py").write_text(ODD_OUTPUT)
    app = make_app(f"{tmp_path / 'odd.py'}:Net", zoo_stats=False)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        text = _panel_text(app.screen.query_one(DetailsPanel))
        assert "torchinfo       not available: torchinfo cannot summarise" in text
