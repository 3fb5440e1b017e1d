"""Meta-kernel results re-made from recipes (cnnexplorer.analysis.meta_shortcuts), against
torch's own meta kernels: op by op (the CHECK mode runs the kernel beside every re-made
result and compares them), and whole analyses with the shortcuts on and off."""

import os
import warnings

import pytest
import torch

from cnnexplorer import zoo
from cnnexplorer.analysis import AnalysisRequest, analyze, meta_shortcuts
from cnnexplorer.analysis.meta_shortcuts import MetaShortcuts

aten = torch.ops.aten


def _analyze(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # inception_v3's note about its weight initialisation
        return analyze(AnalysisRequest.of(name))


# The models the op-by-op check runs on: every family's smallest member and every variant
# whose blocks differ (plain and BN VGG, basic and bottleneck ResNets, the CIFAR stems, the
# 2012 AlexNet's groups, each torchvision family). Deeper members of a family repeat the same
# ops on other shapes; test_the_representatives_exercise_every_shortcut_the_zoo_does keeps
# the claim true as the zoo grows. CNNEXPLORER_TEST_EVERY_MODEL=1 checks all of the zoo.
REPRESENTATIVES = (
    *("alexnet", "alexnet-2012", "alexnet-2012-2gpu"),
    *("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"),
    *("googlenet", "resnet18", "resnet50", "resnet20", "wrn-16-8", "densenet-bc-100"),
    *("convnext_tiny", "efficientnet_b0", "efficientnet_v2_s", "inception_v3", "maxvit_t", "mnasnet0_5"),
    *("mobilenet_v2", "mobilenet_v3_small", "regnet_x_400mf", "regnet_y_400mf", "resnext50_32x4d"),
    *("shufflenet_v2_x0_5", "squeezenet1_0", "squeezenet1_1", "swin_t", "swin_v2_t", "vit_b_32"),
)
CHECKED = zoo.all_names() if os.environ.get("CNNEXPLORER_TEST_EVERY_MODEL") == "1" else REPRESENTATIVES


def _exercised(name: str, monkeypatch) -> set[tuple[str, str]]:
    """The (way, op) pairs a model's analysis answers without the kernel: by a rule, or re-made."""
    exercised: set[tuple[str, str]] = set()
    by_rule, output = meta_shortcuts._by_rule, MetaShortcuts.output

    def rule(func, args, kwargs):
        made = by_rule(func, args, kwargs)
        if made is not None:
            exercised.add(("rule", str(func)))
        return made

    def recorded(self, func, args, kwargs):
        hits = self.hits
        out = output(self, func, args, kwargs)
        if self.hits > hits:
            exercised.add(("recipe", str(func)))
        return out

    with monkeypatch.context() as patch:
        patch.setattr(meta_shortcuts, "_by_rule", rule)
        patch.setattr(MetaShortcuts, "output", recorded)
        _analyze(name)
    return exercised


def test_the_representatives_exercise_every_shortcut_the_zoo_does(monkeypatch):
    monkeypatch.setenv("CNNEXPLORER_META_SHORTCUTS", "1")
    by_model = {name: _exercised(name, monkeypatch) for name in zoo.all_names()}
    in_the_zoo = set().union(*by_model.values())
    assert len(in_the_zoo) > 40  # convolution, batch norm, the element-wise ops, layer norm, …
    missing = in_the_zoo - set().union(*(by_model[name] for name in REPRESENTATIVES))
    assert not missing, f"add a model that runs {sorted(missing)} to REPRESENTATIVES"


@pytest.mark.parametrize("name", CHECKED)
def test_every_remade_result_equals_the_meta_kernels_and_the_analysis_is_unchanged(name, monkeypatch):
    passes: list[MetaShortcuts] = []
    made = MetaShortcuts.__init__

    def kept(self, *args, **kwargs):  # the real constructor; the test keeps each pass's shortcuts to read hits
        made(self, *args, **kwargs)
        passes.append(self)

    monkeypatch.setattr(MetaShortcuts, "__init__", kept)
    monkeypatch.setenv("CNNEXPLORER_META_SHORTCUTS", "0")
    plain = _analyze(name)
    assert passes and not any(shortcuts.hits for shortcuts in passes)
    monkeypatch.setenv("CNNEXPLORER_META_SHORTCUTS", "1")
    monkeypatch.setenv("CNNEXPLORER_CHECK_META_SHORTCUTS", "1")  # raises inside the pass at the first difference
    shortcut = _analyze(name)
    hits = sum(shortcuts.hits for shortcuts in passes)
    assert hits > 0 or name.startswith(("alexnet", "vgg", "squeezenet"))  # no op they run repeats
    assert shortcut == plain  # every field of the tree, the layers, totals, memory and fields


def _meta(*shape, dtype=torch.float32):
    return torch.empty(shape, device="meta", dtype=dtype)


def test_a_repeated_signature_is_remade_with_the_kernels_shape_strides_and_dtype():
    shortcuts = MetaShortcuts(enabled=True, check=True)
    x = _meta(2, 8, 5, 5).to(memory_format=torch.channels_last)
    weight, bias = _meta(5), _meta(5)
    first = shortcuts.output(aten.gelu.default, (x,), {})
    again = shortcuts.output(aten.gelu.default, (x,), {})
    norms = [shortcuts.output(aten.native_layer_norm.default, (x, [5], weight, bias, 1e-5), {}) for _ in "ab"]
    assert shortcuts.hits == 2
    assert again.stride() == first.stride() == x.stride()  # channels-last kept, as the kernel keeps it
    assert again is not first and again.untyped_storage()._cdata != first.untyped_storage()._cdata
    assert [tuple(t.shape) for t in norms[1]] == [(2, 8, 5, 5), (2, 8, 5, 1), (2, 8, 5, 1)]


def test_scalars_equal_in_value_but_not_in_type_are_different_signatures():
    integers = _meta(3, dtype=torch.int64)
    shortcuts = MetaShortcuts(enabled=True, check=False)
    dtypes = [shortcuts.output(aten.add.Tensor, (integers, value), {}).dtype for value in (1, 1.0, True, 1)]
    assert shortcuts.hits == 1  # the second 1 only
    assert dtypes == [torch.int64, torch.float32, torch.int64, torch.int64]


def test_an_output_in_its_inputs_storage_is_left_to_the_kernel():
    # _unsafe_view's schema declares no alias, yet its result shares the input's storage:
    # the training-memory estimate counts storages, so a fresh tensor would count it twice.
    x = _meta(4, 6)
    shortcuts = MetaShortcuts(enabled=True, check=False)
    views = [shortcuts.output(aten._unsafe_view.default, (x, [24]), {}) for _ in "ab"]
    assert shortcuts.hits == 0
    assert all(v.untyped_storage()._cdata == x.untyped_storage()._cdata for v in views)


def test_an_in_place_op_returns_its_argument_and_resize_is_left_to_the_kernel():
    x = _meta(2, 3)
    shortcuts = MetaShortcuts(enabled=True, check=False)
    assert shortcuts.output(aten.tanh_.default, (x,), {}) is x
    assert shortcuts.output(aten.tanh_.default, (x,), {}) is x
    assert shortcuts.hits == 1
    for tensor in (_meta(2, 3), _meta(2, 3)):  # same signature; resize_ changes the tensor's shape
        assert tuple(shortcuts.output(aten.resize_.default, (tensor, [7]), {}).shape) == (7,)
    assert shortcuts.hits == 1


def test_views_and_tensors_with_values_run_their_kernels():
    x, values = _meta(4, 6), torch.arange(6.0)
    shortcuts = MetaShortcuts(enabled=True, check=False)
    views = [shortcuts.output(aten.view.default, (x, [24]), {}) for _ in "ab"]
    sums = [shortcuts.output(aten.add.Tensor, (values, values), {}) for _ in "ab"]
    assert shortcuts.hits == 0
    assert all(v._base is x for v in views)
    assert all(torch.equal(s, values * 2) for s in sums)


def test_element_wise_results_keep_a_permuted_layout_as_the_kernel_does():
    # A residual addition of channels-last maps (ConvNeXt, Swin): the kernel's result is
    # channels-last too, not contiguous (a view of it would fail where a contiguous one would not).
    shortcuts = MetaShortcuts(enabled=True, check=True)
    x, y = (_meta(1, 7, 7, 96).permute(0, 3, 1, 2) for _ in "xy")
    sums = [shortcuts.output(aten.add.Tensor, (x, y), {}) for _ in "ab"]
    plain = shortcuts.output(aten.add.Tensor, (x.contiguous(), y.contiguous()), {})
    assert sums[0].stride() == sums[1].stride() == x.stride() == (4704, 1, 672, 96)
    assert plain.stride() == (4704, 49, 7, 1)
