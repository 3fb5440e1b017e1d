"""Training-only heads are found by what runs, not by a list of names: a module that a
training-mode forward runs and an inference-mode forward does not. The oracle is a real
forward on the CPU (random weights and input) under FlopCounterMode, in each mode."""

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from cnnexplorer import zoo
from cnnexplorer.analysis import AnalysisRequest, analyze, analyze_module
from cnnexplorer.cli import main
from cnnexplorer.errors import InputSizeError, NeedsValuesError
from cnnexplorer.render.summary import render_markdown
from tests.test_published import HEADS


@pytest.fixture(scope="module")
def inception():
    torch.manual_seed(0)
    return zoo.get("inception_v3").build()


def real_flops(model, batch: int, input_size: tuple[int, int, int], training: bool) -> tuple[int, dict]:
    """FlopCounterMode's total over a real CPU forward, and its per-module counts."""
    model.train(training)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(batch, *input_size))
    return counter.get_total_flops(), counter.get_flop_counts()


@pytest.mark.parametrize(("batch", "input_size"), [(1, (3, 299, 299)), (2, (3, 299, 299)), (1, (3, 299, 400))])
def test_inception_v3_totals_equal_a_real_inference_forward(inception, batch, input_size):
    analysis = analyze(AnalysisRequest.of("inception_v3", input_size, batch))
    inference_flops, _ = real_flops(inception, batch, input_size, training=False)
    assert 2 * analysis.totals.macs == inference_flops
    assert analysis.flop_counter_flops == inference_flops
    head_params = sum(p.numel() for p in inception.AuxLogits.parameters())
    assert analysis.totals.params == sum(p.numel() for p in inception.parameters()) - head_params
    assert analysis.totals.training_only_params == head_params
    assert tuple(n.path for n in analysis.root.children if n.training_only) == HEADS["inception_v3"]


def test_inception_v3_auxiliary_head_counted_apart_where_it_trains(inception):
    # Batch 2: the head trains (at batch 1 its batch norm sees one value per channel).
    analysis = analyze(AnalysisRequest.of("inception_v3", batch=2))
    _, per_module = real_flops(inception, 2, (3, 299, 299), training=True)
    head = sum(per_module["Inception3.AuxLogits"].values())
    assert 2 * analysis.totals.training_only_macs == head > 0
    assert analysis.node("AuxLogits").output_shape == (2, 1000)


def test_inception_v3_at_an_input_too_small_for_its_head_is_analysed(inception):
    # The head pools 5x5 with stride 3 and then convolves 5x5: at 96x160 its map vanishes,
    # yet the inference forward runs; the analysis stands and says the heads did not run.
    with pytest.raises(RuntimeError):
        real_flops(inception, 2, (3, 96, 160), training=True)
    inference_flops, _ = real_flops(inception, 2, (3, 96, 160), training=False)
    analysis = analyze(AnalysisRequest.of("inception_v3", (3, 96, 160), 2))
    assert 2 * analysis.totals.macs == inference_flops
    assert analysis.node("AuxLogits").training_only and not analysis.node("AuxLogits").executed
    assert analysis.totals.training_only_macs == 0
    assert "cannot run at this input and batch" in render_markdown(analysis)


@pytest.mark.parametrize("name", sorted(HEADS))
def test_heads_are_the_modules_only_training_runs(name):
    analysis = analyze(AnalysisRequest.of(name, batch=2))
    assert tuple(sorted(n.path for n in analysis.root.walk() if n.training_only and "." not in n.path)) == HEADS[name]
    assert not any(n.training_only for n in analyze(AnalysisRequest.of("resnet18", batch=2)).root.walk())


# What the inference pass sees, and what a failing head is blamed for ----------------------------


class Encoder(torch.nn.Module):
    """Patches of 4x4 pixels into two transformer encoder layers, then a classifier."""

    def __init__(self, width: int = 32, layers: int = 2):
        super().__init__()
        self.patches = torch.nn.Conv2d(3, width, 4, stride=4)
        layer = torch.nn.TransformerEncoderLayer(width, 4, 2 * width, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.fc = torch.nn.Linear(width, 10)

    def forward(self, x):
        return self.fc(self.encoder(self.patches(x).flatten(2).transpose(1, 2)).mean(1))


def encoder_macs(size: int, width: int = 32, layers: int = 2, classes: int = 10) -> int:
    """Encoder's MACs, by hand: the patch convolution, then per layer the q/k/v and output
    projections, the two attention products (tokens x tokens x width each) and the MLP."""
    tokens = (size // 4) ** 2
    patches = tokens * width * 3 * 4 * 4
    layer = tokens * width * 3 * width + 2 * tokens * tokens * width + tokens * width * width
    mlp = 2 * tokens * width * 2 * width
    return patches + layers * (layer + mlp) + width * classes


@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_transformer_layers_are_on_the_inference_path_on_every_device(device, frozen):
    # In eval mode without autograd, PyTorch's CPU fast path runs a whole encoder layer as one
    # op, calling none of its modules: they must not come out as training-only heads.
    torch.manual_seed(0)
    with torch.device(device):
        model = Encoder().requires_grad_(not frozen)
    analysis = analyze_module(model, (3, 32, 32), device=device)
    assert analysis.totals.macs == encoder_macs(32)
    assert not [n.path for n in analysis.root.walk() if n.training_only]
    assert analysis.totals.params == sum(p.numel() for p in Encoder().parameters())
    oracle = Encoder().train()  # training mode takes no fast path: every module runs
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        oracle(torch.randn(1, 3, 32, 32))
    assert 2 * analysis.totals.macs == counter.get_total_flops()


class Jitter(torch.nn.Module):
    """A training-time augmentation that reads a value (the meta device has none)."""

    def forward(self, x):
        return x * (1 + 0.1 * x.std().item())


class Jittered(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.jitter = Jitter()
        self.fc = torch.nn.Linear(8, 10)

    def forward(self, x):
        x = self.conv(x)
        if self.training:
            x = self.jitter(x)
        return self.fc(x.mean((2, 3)))


class Gate(torch.nn.Module):
    """A training-only branch whose output scales the main path: it pools 4x4 and convolves
    3x3, so it needs a map of 12x12 or more."""

    def __init__(self):
        super().__init__()
        self.gate = torch.nn.Sequential(torch.nn.MaxPool2d(4), torch.nn.Conv2d(8, 8, 3), torch.nn.AdaptiveAvgPool2d(1))
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, 10)

    def forward(self, x):
        x = self.conv(x)
        if self.training:
            x = x * self.gate(x)
        return self.fc(x.mean((2, 3)))


def test_a_training_only_module_that_needs_values_is_named_with_device_cpu():
    with torch.device("meta"):
        model = Jittered()
    with pytest.raises(NeedsValuesError) as raised:
        analyze_module(model, (3, 16, 16), name="jittered")
    assert str(raised.value).startswith("jittered cannot run on the meta device: jitter (Jitter) needs values")
    assert str(raised.value).endswith("--device cpu analyses it for real (slower)")
    real = analyze_module(Jittered(), (3, 16, 16), name="jittered", device="cpu")
    assert real.node("jitter").training_only and real.node("jitter").executed


def test_a_training_only_branch_too_small_for_the_input_is_named_where_its_output_is_used():
    gate = Gate().train()  # the oracle: a real forward fails in the gate's convolution at 8x8
    with pytest.raises(RuntimeError, match="greater than actual input size"):
        gate(torch.randn(2, 3, 8, 8))
    with torch.device("meta"):
        model = Gate()
    with pytest.raises(InputSizeError) as raised:
        analyze_module(model, (3, 8, 8), batch=2, name="gate")
    assert (
        str(raised.value)
        == "input 3x8x8 is too small for gate: the feature map vanishes at gate.1 (Conv2d), whose input is 8x2x2"
    )
    assert analyze_module(model, (3, 12, 12), batch=2).node("gate").training_only


def test_train_refuses_an_image_size_its_training_only_head_cannot_run_at(capsys, tmp_path):
    argv = ["train", "inception_v3", "--image-size", "96", "--dataset", "fake", "--device", "cpu"]
    assert main([*argv, "--max-steps", "1", "--output", str(tmp_path)]) == 2
    (error,) = capsys.readouterr().err.strip().splitlines()
    assert "--image-size 96: input 3x96x96 is too small for inception_v3's training-only AuxLogits" in error
    assert error.endswith("the least --image-size inception_v3 runs at is 299")
    assert not any(tmp_path.iterdir())  # refused before a run folder is made
    model = torchvision.models.inception_v3(init_weights=False).train()  # the oracle: real training forwards
    with torch.no_grad():
        model(torch.randn(2, 3, 299, 299))
        with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
            model(torch.randn(2, 3, 298, 298))
