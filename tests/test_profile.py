"""``cnnexplorer.profile``: the roofline arithmetic by hand, real CPU profiles of resnet20 and
resnet18 (coverage, containers, FLOPs and bytes per leaf), the JSON document, cached peaks."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from cnnexplorer.analysis import AnalysisRequest, analyze
from cnnexplorer.profile import LayerProfile, Peaks, Profile, from_json, to_json
from cnnexplorer.profile.measure import ProfileRequest, profile_model
from cnnexplorer.profile.peaks import device_peaks
from cnnexplorer.profile.results import ProfileDocumentError

# resnet20 at CIFAR's 32x32, resnet18 at 64x64: small enough to be quick, large enough for a
# layer's work to outweigh the Python between two hooks.
RESNET20 = ProfileRequest("resnet20", None, batch=16, steps=15, warmup=3)
RESNET18 = ProfileRequest("resnet18", (3, 64, 64), batch=4, steps=15, warmup=3)


def quiet(line: str) -> None:
    pass


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared machine's other work perturbs one thread the least
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def resnet20(one_thread) -> Profile:
    return profile_model(RESNET20, quiet)


@pytest.fixture(scope="module")
def resnet18(one_thread) -> Profile:
    return profile_model(RESNET18, quiet)


@pytest.fixture(scope="module")
def resnet18_training(one_thread) -> Profile:
    return profile_model(ProfileRequest("resnet18", (3, 32, 32), batch=2, mode="training", steps=3, warmup=1), quiet)


# A 3x3 convolution, 64 -> 64 channels, on one 56x56 map at float32, counted by hand.
CONV_MACS = 64 * 64 * 3 * 3 * 56 * 56  # 115,605,504
CONV_BYTES = (64 * 64 * 3 * 3 + 64 * 56 * 56 + 64 * 56 * 56) * 4  # weights + input + output: 1,753,088


def hand_conv(forward_ms: float = 1.0) -> LayerProfile:
    return LayerProfile("conv", "Conv2d", 1, forward_ms, None, 2 * CONV_MACS, CONV_BYTES)


def test_roofline_of_a_conv_by_hand():
    conv = hand_conv(forward_ms=2.0)
    assert conv.intensity == pytest.approx(231_211_008 / 1_753_088)  # 131.89 FLOP/B
    assert conv.achieved_flops_per_s == pytest.approx(231_211_008 / 0.002)
    assert conv.achieved_bytes_per_s == pytest.approx(1_753_088 / 0.002)
    low_ridge = Peaks("cpu", "x", "float32", flops_per_s=1e12, bytes_per_s=1e11)  # ridge 10 FLOP/B
    assert conv.bound(low_ridge) == "compute"
    assert conv.bound_flops_per_s(low_ridge) == 1e12
    assert conv.percent_of_bound(low_ridge) == pytest.approx(100 * 115.605504e9 / 1e12)
    high_ridge = Peaks("cuda:0", "x", "bfloat16", flops_per_s=1e14, bytes_per_s=1e11)  # ridge 1000 FLOP/B
    assert conv.bound(high_ridge) == "memory"
    assert conv.bound_flops_per_s(high_ridge) == pytest.approx(131.8887 * 1e11, rel=1e-5)
    assert conv.percent_of_bound(high_ridge) == pytest.approx(100 * 115.605504e9 / 1.318887e13, rel=1e-5)


def test_at_the_ridge_point_both_roofs_meet():
    conv = hand_conv()
    ridge = Peaks("cpu", "x", "float32", flops_per_s=conv.intensity * 5e10, bytes_per_s=5e10)
    assert ridge.ridge_intensity == pytest.approx(conv.intensity)
    assert conv.bound_flops_per_s(ridge) == pytest.approx(ridge.flops_per_s)
    assert conv.bound_flops_per_s(ridge) == pytest.approx(conv.intensity * ridge.bytes_per_s)
    below = Peaks("cpu", "x", "float32", flops_per_s=conv.intensity * 5e10 * 1.01, bytes_per_s=5e10)
    assert conv.bound(ridge) == "compute" and conv.bound(below) == "memory"


def test_a_layer_without_flops_is_memory_bound_and_has_no_percent_of_bound():
    relu = LayerProfile("relu", "ReLU", 1, 0.5, None, 0, 1_000_000)
    peaks = Peaks("cpu", "x", "float32", 1e11, 1e10)
    assert relu.intensity == 0 and relu.bound(peaks) == "memory" and relu.percent_of_bound(peaks) is None


@pytest.mark.parametrize("name", ["resnet20", "resnet18"])
def test_leaf_forward_times_sum_to_the_whole_forward_without_hooks(name, request):
    profile = request.getfixturevalue(name)
    leaves = sum(layer.forward_ms for layer in profile.layers)
    assert leaves == pytest.approx(profile.forward_ms, rel=0.15), (leaves, profile.forward_ms)
    assert profile.coverage == pytest.approx(leaves / profile.forward_ms)
    assert profile.forward_ms_with_hooks > 0 and profile.hooks_overhead > -0.5


def test_every_executed_leaf_is_profiled_in_execution_order(resnet18):
    model = resnet18
    analysis = analyze(AnalysisRequest("resnet18", (3, 64, 64), 4))
    executed_leaves = [node.path for node in analysis.layers if node.is_leaf]
    assert [layer.path for layer in model.layers] == executed_leaves
    assert {layer.path: layer.calls for layer in model.layers} == {
        node.path: node.calls for node in analysis.layers if node.is_leaf
    }


def test_flops_per_leaf_are_the_engines_and_conv1_by_hand(resnet18):
    analysis = analyze(AnalysisRequest("resnet18", (3, 64, 64), 4))
    assert {layer.path: layer.flops for layer in resnet18.layers} == {
        node.path: 2 * node.macs for node in analysis.layers if node.is_leaf
    }
    conv1 = next(layer for layer in resnet18.layers if layer.path == "conv1")
    assert conv1.flops == 2 * (64 * 3 * 7 * 7) * (4 * 32 * 32)  # 2 x weights x output positions


def test_bytes_of_a_conv_leaf_are_weights_input_output_at_the_dtype(resnet18):
    conv1 = next(layer for layer in resnet18.layers if layer.path == "conv1")
    assert conv1.bytes == (64 * 3 * 7 * 7 + 4 * 3 * 64 * 64 + 4 * 64 * 32 * 32) * 4
    block_conv = next(layer for layer in resnet18.layers if layer.path == "layer1.0.conv1")
    assert block_conv.bytes == (64 * 64 * 3 * 3 + 2 * 4 * 64 * 16 * 16) * 4
    bn = next(layer for layer in resnet18.layers if layer.path == "bn1")  # weight, bias, mean, var
    assert bn.bytes == (4 * 64 + 2 * 4 * 64 * 32 * 32) * 4


def test_a_container_is_the_sum_of_its_leaves(resnet18):
    for path in ("layer1", "layer2.0", "layer4.1", ""):
        leaves = [layer for layer in resnet18.layers if not path or layer.path.startswith(path + ".")]
        part = resnet18.container(path)
        assert part.forward_ms == pytest.approx(sum(layer.forward_ms for layer in leaves))
        assert part.flops == sum(layer.flops for layer in leaves)
        assert part.bytes == sum(layer.bytes for layer in leaves)
        assert part.params == sum(layer.params for layer in leaves)
        assert part.backward_ms is None
    assert resnet18.container("").params == resnet18.params == 11_689_512  # torchvision's resnet18


def test_lessons_name_the_largest_container_and_the_costliest_layers(resnet18):
    lessons = resnet18.lessons()
    layer4 = resnet18.container("layer4")
    assert lessons[0] == (
        f"layer4: {100 * layer4.params / resnet18.params:.1f}% of params, {resnet18.share(layer4):.1f}% of time"
    )
    costliest = sorted(resnet18.layers, key=lambda layer: layer.forward_ms, reverse=True)[:3]
    assert all(layer.path in lessons[1] for layer in costliest)
    memory = sum(layer.forward_ms for layer in resnet18.layers if layer.bound(resnet18.peaks) == "memory")
    assert lessons[2] == f"memory-bound layers: {100 * memory / resnet18.layers_ms:.0f}% of the time"


def test_training_mode_times_every_leafs_backward(resnet18_training):
    profile = resnet18_training
    assert profile.mode == "training" and profile.backward_ms > 0
    assert all(layer.backward_ms is not None and layer.backward_ms >= 0 for layer in profile.layers)
    convs = [layer for layer in profile.layers if layer.type == "Conv2d"]
    assert all(layer.backward_ms > 0 for layer in convs)
    assert profile.img_per_s == pytest.approx(2 / ((profile.forward_ms + profile.backward_ms) / 1e3))


def test_json_document_has_the_schemas_keys_and_types(resnet18):
    document = to_json(resnet18)
    assert document["schema"] == 1
    assert {"device", "precision", "batch", "peaks", "model", "layers"} <= document.keys()
    assert document["device"] == "cpu" and document["precision"] == "float32" and document["batch"] == 4
    assert {"flops_per_s", "bytes_per_s"} <= document["peaks"].keys()
    assert {"forward_ms", "img_per_s", "hooks_overhead"} <= document["model"].keys()
    expected = {
        "path": str, "type": str, "forward_ms": float, "backward_ms": type(None), "flops": int, "bytes": int,
        "intensity": float, "achieved_flops_per_s": float, "bound_flops_per_s": float, "bound": str,
    }  # fmt: skip
    for layer in document["layers"]:
        assert {key: type(layer[key]) for key in expected} == expected
        assert layer["bound"] in ("compute", "memory")
    assert from_json(document) == resnet18


def test_json_round_trip_in_training_mode(resnet18_training):
    document = to_json(resnet18_training)
    assert all(isinstance(layer["backward_ms"], float) for layer in document["layers"])
    assert from_json(document) == resnet18_training


def damaged(document: dict, where: tuple, value) -> dict:
    document = copy.deepcopy(document)
    target = document
    for key in where[:-1]:
        target = target[key]
    if value is KeyError:
        del target[where[-1]]
    else:
        target[where[-1]] = value
    return document


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("schema",), 2),
        (("schema",), True),
        (("batch",), 0),
        (("batch",), 2.0),
        (("precision",), "int8"),
        (("mode",), "sampling"),
        (("peaks", "flops_per_s"), -1.0),
        (("peaks", "bytes_per_s"), math.nan),
        (("peaks",), [1, 2]),
        (("model", "forward_ms"), "fast"),
        (("model", "forward_ms"), math.inf),
        (("model", "backward_ms"), 3.0),  # inference mode has none
        (("model", "img_per_s"), KeyError),
        (("layers",), {"conv1": 1}),
        (("layers", 0, "flops"), -2),
        (("layers", 0, "flops"), True),
        (("layers", 0, "bytes"), 1.5),
        (("layers", 0, "path"), None),
        (("layers", 0, "path"), "x" * 5000),
        (("input_size",), [3, 64]),
    ],
)
def test_from_json_refuses_a_damaged_document(resnet18, where, value):
    with pytest.raises(ProfileDocumentError):
        from_json(damaged(to_json(resnet18), where, value))


def test_from_json_refuses_too_many_layers_and_non_objects(resnet18):
    document = to_json(resnet18)
    document["layers"] = document["layers"][:1] * 100_001
    with pytest.raises(ProfileDocumentError):
        from_json(document)
    for junk in (None, [], "profile", 1):
        with pytest.raises(ProfileDocumentError):
            from_json(junk)


def test_peaks_are_reused_from_the_cache_and_a_damaged_entry_is_remeasured(tmp_path, monkeypatch, one_thread):
    monkeypatch.setenv("CNNEXPLORER_CACHE_DIR", str(tmp_path))
    cpu = torch.device("cpu")
    first = device_peaks(cpu, torch.float32, progress=quiet)
    assert not first.reused and first.flops_per_s > 0 and first.bytes_per_s > 0
    second = device_peaks(cpu, torch.float32, progress=quiet)
    assert second.reused
    assert (second.flops_per_s, second.bytes_per_s, second.measured_at) == (
        first.flops_per_s,
        first.bytes_per_s,
        first.measured_at,
    )
    (entry,) = tmp_path.glob("peaks-*.json")
    text = entry.read_text()
    entry.write_text(text.replace(repr(first.flops_per_s), repr(first.flops_per_s * 10)))  # digest no longer matches
    assert entry.read_text() != text
    third = device_peaks(cpu, torch.float32, progress=quiet)
    assert not third.reused
    assert device_peaks(cpu, torch.float32, remeasure=True, progress=quiet).reused is False
    assert device_peaks(cpu, torch.bfloat16, progress=quiet).reused is False  # another dtype, another entry


def test_cpu_peak_memory_is_measured_beside_the_engines_estimate(resnet18, resnet18_training):
    # The profiler's tensor peak of a real CPU step against the engine's count (independent:
    # one from the allocator's events, one from the meta pass's shapes).
    for profile in (resnet18, resnet18_training):
        assert profile.peak_memory_bytes == pytest.approx(profile.estimated_memory_bytes, rel=0.25)
    weights = 11_689_512 * 4
    assert resnet18.peak_memory_bytes > weights + 4 * 3 * 64 * 64 * 4


def test_bf16_runs_under_autocast_and_counts_two_bytes_per_value(one_thread):
    request = ProfileRequest("resnet20", None, batch=2, precision="bf16", channels_last=True, steps=2, warmup=1)
    profile = profile_model(request, quiet)
    assert (profile.precision, profile.autocast, profile.channels_last) == ("bfloat16", True, True)
    assert profile.peaks.dtype == "bfloat16"
    conv1 = profile.layers[0]
    assert conv1.path == "conv1" and conv1.bytes == (16 * 3 * 3 * 3 + 2 * 3 * 32 * 32 + 2 * 16 * 32 * 32) * 2
    assert from_json(to_json(profile)) == profile


def test_the_results_and_their_rendering_load_without_torch():
    import subprocess
    import sys

    code = "import sys, cnnexplorer.profile, cnnexplorer.profile.render; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_a_layer_that_makes_no_autograd_node_gets_no_backward_time(one_thread):
    # resnet20's identity shortcuts return their input: its node is the layer's before, whose
    # backward is that layer's; the in-place ReLUs (called twice a block) make nodes of their own.
    request = ProfileRequest("resnet20", None, batch=2, mode="training", steps=2, warmup=1)
    layers = {layer.path: layer for layer in profile_model(request, quiet).layers}
    assert layers["layer1.0.shortcut"].type == "Identity" and layers["layer1.0.shortcut"].backward_ms == 0.0
    assert layers["layer1.0.relu"].calls == 2 and layers["layer1.0.relu"].backward_ms > 0
    assert layers["layer1.0.bn2"].backward_ms > 0
