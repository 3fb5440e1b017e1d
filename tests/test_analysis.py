import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnexplorer import zoo
from cnnexplorer.analysis import AnalysisRequest, analyze, analyze_module
from cnnexplorer.analysis.inputs import parse_input
from cnnexplorer.analysis.memory import shares_input_memory
from cnnexplorer.errors import UsageError
from tests.test_published import HEADS

# Parameter counts as printed in the papers' tables (millions, with the papers' rounding).
PAPER_PARAMS_M = {
    "resnet20": 0.27, "resnet32": 0.46, "resnet44": 0.66, "resnet56": 0.85, "resnet110": 1.7,  # He et al. Table 6
    "wrn-28-10": 36.5, "wrn-16-8": 11.0,  # Zagoruyko & Komodakis, Table 4
    "densenet-bc-100": 0.8,  # Huang et al., Table 2 (k=12)
}  # fmt: skip


@pytest.mark.parametrize("name", PAPER_PARAMS_M)
def test_cifar_variants_match_the_papers_parameter_counts(name, analysis_of):
    printed = PAPER_PARAMS_M[name]
    decimals = len(str(printed).split(".")[1])
    assert round(analysis_of(name).totals.params / 1e6, decimals) == printed


def test_cifar_resnet_depth_counts_weight_layers(analysis_of):
    # ResNet-6n+2: 6n 3x3 convs, the first conv and the FC layer; option-A shortcuts have no weights.
    for name, depth in (("resnet20", 20), ("resnet56", 56), ("resnet110", 110)):
        assert analysis_of(name).totals.weight_layers == depth


def test_every_node_has_figures_and_containers_sum_their_descendants(analysis_of):
    analysis = analysis_of("resnet50")
    for node in analysis.root.walk():
        if node.children:
            assert node.params == sum(c.params for c in node.children)
            assert node.macs == sum(c.macs for c in node.children)
            counted = [c for c in node.children if not (c.is_leaf and shares_input_memory(c))]
            assert node.activation_bytes == sum(c.activation_bytes for c in counted)
    block = analysis.node("layer3.0")
    assert block.input_shape == (1, 512, 28, 28) and block.output_shape == (1, 1024, 14, 14)
    conv = analysis.node("layer3.0.conv2")
    assert (conv.kernel_size, conv.stride, conv.padding, conv.dilation, conv.groups) == (
        (3, 3),
        (2, 2),
        (1, 1),
        (1, 1),
        1,
    )
    bn = analysis.node("layer3.0.bn1")
    assert bn.params == 2 * 256 and bn.buffers == 2 * 256 + 1


def test_layers_are_in_execution_order(analysis_of):
    paths = [n.path for n in analysis_of("resnet18").layers]
    assert paths[:5] == ["", "conv1", "bn1", "relu", "maxpool"]
    assert paths.index("layer1.0.conv1") < paths.index("layer1.0.conv2") < paths.index("layer2.0.downsample.0")
    assert paths[-1] == "fc"


def test_batch_scales_macs_and_activations_not_params(analysis_of):
    one, eight = analysis_of("resnet18"), analysis_of("resnet18", None, 8)
    assert eight.totals.params == one.totals.params
    assert eight.totals.macs == 8 * one.totals.macs
    assert eight.totals.activation_bytes == 8 * one.totals.activation_bytes


def test_dtype_sets_the_byte_counts(analysis_of):
    fp32, bf16 = analysis_of("vgg11"), analysis_of("vgg11", None, 1, "bfloat16")
    assert fp32.totals.param_bytes == 4 * fp32.totals.params
    assert bf16.totals.param_bytes == 2 * bf16.totals.params
    assert bf16.totals.activation_bytes * 2 == fp32.totals.activation_bytes


def test_memory_estimate_of_a_small_model_by_hand():
    with torch.device("meta"):
        model = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(8 * 4 * 4, 10)
        )
    analysis = analyze_module(model, (3, 4, 4), batch=2)
    params = (3 * 9 * 8 + 8) + (128 * 10 + 10)
    memory = analysis.memory
    assert analysis.totals.params == params
    assert memory.weight_bytes == 4 * params
    # Largest input+output pair: the conv (2x3x4x4 in, 2x8x4x4 out).
    assert memory.inference_activation_bytes == 4 * (2 * 48 + 2 * 128)
    assert memory.inference_bytes == 4 * params + 4 * (2 * 48 + 2 * 128)
    # Saved for backward: the input (by the conv) and the conv's output (by the in-place ReLU, and by
    # the linear layer through the flatten view: one storage). Nothing saves the linear layer's output.
    assert memory.training_activation_bytes == 4 * (2 * 48 + 2 * 128)
    assert memory.training_bytes("sgd") == 4 * params * 3 + memory.training_activation_bytes
    assert memory.training_bytes("adam") == 4 * params * 4 + memory.training_activation_bytes


def test_buffers_count_at_their_own_dtype(analysis_of):
    # resnet20: 19 batch norms, running mean and variance per channel (float32) and one int64
    # num_batches_tracked each.
    channels = 16 + 3 * 2 * (16 + 32 + 64)
    for dtype, element in (("float32", 4), ("bfloat16", 2)):
        analysis = analysis_of("resnet20", None, 1, dtype)
        assert analysis.totals.buffer_bytes == 2 * channels * element + 19 * 8
        assert analysis.memory.buffer_bytes == analysis.totals.buffer_bytes
    assert analysis_of("resnet20").totals.buffer_bytes == 5_656


def test_training_memory_includes_training_only_heads(analysis_of):
    memory = analysis_of("googlenet").memory
    totals = analysis_of("googlenet").totals
    assert memory.weight_bytes == 4 * totals.params
    assert memory.training_weight_bytes == 4 * totals.params_with_training_only
    heads = [analysis_of("googlenet").node(path) for path in ("aux1", "aux2")]
    assert memory.training_buffer_bytes == memory.buffer_bytes + sum(n.buffer_bytes for n in heads) > 0
    assert memory.training_bytes("sgd") == (
        memory.training_weight_bytes
        + memory.training_buffer_bytes
        + memory.gradient_bytes
        + memory.optimizer_state_bytes["sgd"]
        + memory.training_activation_bytes
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [("3x224x224", (3, 224, 224)), ("224", (3, 224, 224)), ("1x28x28", (1, 28, 28)), ("3x96x64", (3, 96, 64)),
     (" 3 x 32 x 32 ", (3, 32, 32))],
)  # fmt: skip
def test_parse_input(text, size):
    assert parse_input(text) == size


@pytest.mark.parametrize("text", ["abc", "3x224x224x2", "0x224x224", "3x-1x224", "", "3x2.5x4", "3x224", "96x64"])
def test_malformed_input_is_refused(text):
    with pytest.raises(UsageError) as error:
        parse_input(text)
    assert "\n" not in str(error.value)


def test_an_input_too_small_names_the_layer_where_the_map_vanishes():
    with pytest.raises(UsageError) as error:
        analyze(AnalysisRequest.of("alexnet-2012", (3, 32, 32)))
    message = str(error.value)
    # 32 -> conv1 (11/4) 6 -> pool1 2 -> conv2 2 -> pool2: a 3x3 window on a 2x2 map.
    assert "too small" in message and "features.pool2" in message and "MaxPool2d" in message
    assert "256x2x2" in message


def test_wrong_channel_count_names_the_first_layer():
    with pytest.raises(UsageError, match="conv1"):
        analyze(AnalysisRequest.of("resnet18", (1, 224, 224)))


@pytest.mark.parametrize("batch", [0, -3])
def test_bad_batch_is_refused(batch):
    with pytest.raises(UsageError, match="batch"):
        AnalysisRequest.of("resnet20", batch=batch)


def test_unknown_dtype_is_refused():
    with pytest.raises(UsageError, match="float64"):
        AnalysisRequest.of("resnet20", dtype="float64")


def test_the_model_stays_on_the_meta_device():
    from cnnexplorer.zoo import get

    with torch.device("meta"):
        model = get("vgg19").build()
    analysis = analyze_module(model, (3, 224, 224))
    # 143M parameters analysed without a byte of weight storage.
    assert analysis.totals.params == 143_667_240
    assert all(p.is_meta for p in model.parameters()) and all(b.is_meta for b in model.buffers())


@pytest.mark.parametrize("text", ["9" * 5000, "3x" + "1" * 13 + "x224", "٣x٢٢٤x٢٢٤"])
def test_huge_or_non_ascii_numbers_in_an_input_size_are_refused_in_one_line(text):
    with pytest.raises(UsageError) as error:
        parse_input(text)
    assert "\n" not in str(error.value) and len(str(error.value)) < 200


@pytest.mark.parametrize("name", zoo.names())
def test_flop_totals_equal_a_real_flop_counter_mode_run(name, analysis_of):
    # The engine counts FLOPs with FlopCounterMode's formulas inside its own dispatch mode:
    # its totals against PyTorch's FlopCounterMode over a plain training-mode forward, the
    # training-only heads (GoogLeNet's auxiliary classifiers) from the counter's own
    # per-module figures.
    arch = zoo.get(name)
    with torch.device("meta"):
        model = arch.build().train()
    x = torch.empty((1, *arch.input_size), device="meta")
    with FlopCounterMode(display=False) as counter:
        model(x)
    per_module = counter.get_flop_counts()
    heads = sum(sum(per_module.get(f"{type(model).__name__}.{path}", {}).values()) for path in HEADS.get(name, ()))
    analysis = analysis_of(name)
    assert analysis.flop_counter_flops == counter.get_total_flops() - heads
    assert analysis.training_only_flop_counter_flops == heads
    assert heads > 0 or name not in HEADS


@pytest.mark.parametrize(
    ("input_shape", "weight_shape", "stride", "padding", "dilation", "groups"),
    [((2, 3, 224, 224), (64, 3, 7, 7), [2, 2], [3, 3], [1, 1], 1),
     ((1, 32, 17, 9), (32, 1, 3, 3), [2, 1], [1, 0], [1, 1], 32),
     ((1, 8, 30, 31), (16, 4, 3, 5), [3, 2], [2, 1], [2, 3], 2),
     ((1, 4, 10), (6, 4, 3), [2], [1], [1], 1),
     ((1, 2, 6, 7, 8), (3, 2, 3, 3, 3), [1, 2, 1], [0, 1, 1], [1, 1, 2], 1),
     ((1, 3, 5, 5), (4, 3, 5, 5), [1, 1], [0, 0], [1, 1], 1)],
)  # fmt: skip
def test_convolution_shapes_made_without_the_meta_kernel_equal_its_own(
    input_shape, weight_shape, stride, padding, dilation, groups
):
    from cnnexplorer.analysis.meta_shortcuts import _by_rule

    x, weight = torch.empty(input_shape, device="meta"), torch.empty(weight_shape, device="meta")
    args = (x, weight, None, stride, padding, dilation, False, [0], groups)
    convolution = torch.ops.aten.convolution.default
    made, kernel = _by_rule(convolution, args, {}), convolution(*args)
    assert (made.shape, made.stride(), made.dtype) == (kernel.shape, kernel.stride(), kernel.dtype)


def test_convolutions_the_shortcut_does_not_model_are_left_to_the_meta_kernel():
    from cnnexplorer.analysis.meta_shortcuts import _by_rule

    x, weight = torch.empty((1, 3, 8, 8), device="meta"), torch.empty((4, 3, 3, 3), device="meta")
    plain = (x, weight, None, [1, 1], [0, 0], [1, 1], False, [0], 1)
    convolution = torch.ops.aten.convolution.default
    assert _by_rule(convolution, plain, {}) is not None
    too_small = (torch.empty((1, 3, 2, 2), device="meta"), *plain[1:])
    wrong_channels = (torch.empty((1, 1, 8, 8), device="meta"), *plain[1:])
    channels_last = (x.to(memory_format=torch.channels_last), *plain[1:])
    transposed = (*plain[:6], True, *plain[7:])
    for args in (too_small, wrong_channels, channels_last, transposed):
        assert _by_rule(convolution, args, {}) is None


def test_the_receptive_field_mode_leaves_tensors_with_values_to_their_kernels():
    # Its shortcuts (outputs made from shapes alone) are for the meta device only.
    from cnnexplorer.analysis.receptive_field import ReceptiveFieldMode

    torch.manual_seed(0)
    conv, norm = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)
    x = torch.randn(2, 3, 8, 8)

    def forward(x):
        y = torch.relu_(norm(conv(x)))
        return torch.cat([y + y, torch.sigmoid(y)], 1)

    expected = forward(x)
    norm.reset_running_stats()
    with ReceptiveFieldMode():
        got = forward(x)
    assert torch.equal(got, expected)


def test_a_models_own_forward_hooks_stay_traced_and_dispatch_is_left_on():
    # A hook of the model's own, which can change the output, is traced like the forward itself,
    # and the layer's output is the one its hooks leave (the engine's own hooks run before them).
    with torch.device("meta"):
        model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    model[0].register_forward_hook(lambda module, inputs, output: torch.nn.functional.max_pool2d(output, 2))
    analysis = analyze_module(model, (3, 16, 16))
    assert analysis.node("0").output_shape == (1, 4, 8, 8)
    # conv 3x3 (3), pool 2x2 stride 2 (4, jump 2), conv 3x3 (4 + 2 x 2 = 8)
    assert (analysis.node("2").field.size, analysis.node("2").field.jump) == ((8, 8), (2, 2))
    with pytest.raises(UsageError):
        analyze(AnalysisRequest.of("alexnet-2012", (3, 32, 32)))
    assert not torch._C._dispatch_tls_is_dispatch_key_excluded(torch._C.DispatchKey.Python)
