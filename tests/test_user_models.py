"""The user's own models past the plain ones: lazy modules, a forward that needs values, and
forwards that fail for reasons of their own (issue 21, findings 7, 8, 14 and 15)."""

from __future__ import annotations

import re

import pytest
import torch
import torchinfo
from torch.utils.flop_counter import FlopCounterMode

from cnnexplorer import zoo
from cnnexplorer.analysis.engine import analyze, analyze_module
from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.cli import main
from cnnexplorer.errors import UsageError
from tests.conftest import assert_usage_error, run_cli

SOURCE = '''\
import torch
from torch import nn


class LazyNet(nn.Module):
    """Lazy layers whose shapes follow the input: the linear layer takes 16 x H/2 x W/2 features."""

    input_size = (3, 32, 32)

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv = nn.LazyConv2d(16, 3, padding=1)
        self.bn = nn.LazyBatchNorm2d()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.LazyLinear(num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.bn(self.conv(x)))), 1))


class EagerNet(nn.Module):
    """LazyNet written with eager layers, for an input of channels x height x width."""

    def __init__(self, num_classes=10, channels=3, height=32, width=32):
        super().__init__()
        self.conv = nn.Conv2d(channels, 16, 3, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * (height // 2) * (width // 2), num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.bn(self.conv(x)))), 1))


class Gated(nn.Module):
    """A branch on a value (the meta device has none)."""

    input_size = (3, 16, 16)

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        x = self.conv(x)
        if x.sum() > 0:
            x = torch.relu(x)
        return self.fc(x.mean((2, 3)))


class Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        raise ValueError("my model is broken")


class Recurses(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self(x)


class MovesItself(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x.cuda().mean((2, 3)))


def a_sentence():
    return "a factory that returns a long sentence instead of a network of layers"
'''


@pytest.fixture(scope="module")
def user_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("user") / "nets.py"
    path.write_text(SOURCE)
    return path


@pytest.fixture(scope="module")
def nets():
    namespace: dict = {}
    exec(SOURCE, namespace)
    return namespace


def real_figures(model: torch.nn.Module, size: tuple[int, int, int]) -> tuple[int, int]:
    """Parameters (torchinfo, after a real forward on the CPU) and MACs (a real forward's
    FlopCounterMode FLOPs, halved) of an initialised model."""
    x = torch.randn(2, *size)
    with torch.no_grad():
        params = torchinfo.summary(model, input_data=x, device="cpu", verbose=0).total_params
        with FlopCounterMode(display=False) as counter:
            model(x)
    return params, counter.get_total_flops() // 2


# Lazy modules (finding 7) ------------------------------------------------------------------


@pytest.mark.parametrize("device", ["meta", "cpu"])
@pytest.mark.parametrize("size", [(3, 32, 32), (3, 40, 24), (1, 28, 28)])
def test_lazy_modules_count_as_the_network_written_eagerly(user_file, nets, device, size):
    lazy = analyze(AnalysisRequest.of(f"{user_file}:LazyNet", size, 2), device)
    with torch.device("meta"):
        eager = nets["EagerNet"](channels=size[0], height=size[1], width=size[2])
    oracle = analyze_module(eager, size, batch=2)
    assert (lazy.totals.params, lazy.totals.macs) == (oracle.totals.params, oracle.totals.macs)
    materialised = nets["LazyNet"]()
    materialised(torch.zeros(1, *size))  # PyTorch's dry run, on the CPU
    assert (lazy.totals.params, lazy.totals.macs) == real_figures(materialised.eval(), size)
    assert {n.path: n.params for n in lazy.root.walk()} == {n.path: n.params for n in oracle.root.walk()}


def test_a_lazy_model_trains_with_its_materialised_parameter_count(user_file, nets, tmp_path):
    runs = tmp_path / "runs"
    args = ["--dataset", "fake", "--fake-size", "8", "--batch-size", "4", "--max-steps", "2", "--device", "cpu"]
    result = run_cli("train", f"{user_file}:LazyNet", *args, "--workers", "0", "--output", str(runs))
    assert result.returncode == 0, result.stderr
    materialised = nets["LazyNet"]()
    materialised(torch.zeros(1, 3, 32, 32))
    params, _ = real_figures(materialised.eval(), (3, 32, 32))
    assert f"{params:,} parameters" in result.stdout
    (run_dir,) = runs.iterdir()
    evaluated = run_cli("eval", f"{user_file}:LazyNet", "--checkpoint", str(run_dir / "best.pt"), "--dataset", "fake")
    assert evaluated.returncode == 0, evaluated.stderr


# A forward that needs values (finding 8) ------------------------------------------------------


def test_a_model_whose_forward_needs_values_trains_with_a_note(user_file, nets, tmp_path):
    args = ["--dataset", "fake", "--fake-size", "8", "--batch-size", "4", "--max-steps", "1", "--device", "cpu"]
    result = run_cli("train", f"{user_file}:Gated", *args, "--workers", "0", "--output", str(tmp_path))
    assert result.returncode == 0, result.stderr
    params, _ = real_figures(nets["Gated"]().eval(), (3, 16, 16))
    assert f"{params:,} parameters" in result.stdout
    assert "forward needs values: its parameters and MACs come from a real forward on the CPU" in result.stdout


def test_summary_of_a_model_whose_forward_needs_values_says_to_use_device_cpu(user_file, capsys):
    assert main(["summary", f"{user_file}:Gated", "--no-cache"]) == 2
    error = capsys.readouterr().err.strip()
    assert "cannot run on the meta device" in error and "--device cpu" in error
    assert "--input" not in error


# Failures of the model's own (finding 15) -----------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "words"),
    [
        ("Raises", "fails in its forward at {spec} (Raises), whose input is 3x224x224: ValueError: my model is broken"),
        ("Recurses", "fails in its forward at {spec} (Recurses): RecursionError: maximum recursion depth exceeded"),
        ("MovesItself", "moves its tensors to a device itself"),
    ],
)
@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_a_forward_that_fails_on_its_own_names_its_error_not_the_input(user_file, capsys, factory, words, device):
    spec = f"{user_file}:{factory}"
    assert main(["summary", spec, "--no-cache", "--device", device]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    error = lines[-1]  # after --device cpu's note
    assert error.startswith(f"cnnexplorer: error: {spec} ")
    assert words.format(spec=spec) in error
    assert "--input" not in error and "input size" not in error


def test_a_too_small_input_still_says_to_choose_another():
    result = run_cli("summary", "alexnet", "--input", "3x32x32", "--no-cache")
    assert_usage_error(result, "the feature map vanishes at features.12 (MaxPool2d), whose input is 256x1x1")
    assert result.stderr.rstrip().endswith("; choose another --input")


def test_a_factory_that_returns_no_module_is_named_by_its_type_not_a_cut_repr(user_file):
    with pytest.raises(UsageError) as raised:
        zoo.get(f"{user_file}:a_sentence")
    assert str(raised.value) == f"{user_file}:a_sentence: the factory returned a str, not a torch.nn.Module"


# A file without its factory (finding 14) ----------------------------------------------------


def test_a_file_without_a_factory_says_how_to_name_one(user_file):
    with pytest.raises(UsageError) as raised:
        zoo.get(str(user_file))
    assert f"{user_file}:NAME" in str(raised.value)
    assert "unknown architecture" not in str(raised.value)
    assert re.search(r"function or class", str(raised.value))
