"""Meta-kernel results re-made from recipes (cnnexplorer.analysis.meta_shortcuts), against
torch's own meta kernels: op by op (the CHECK mode runs the kernel beside every re-made
result and compares them), and whole analyses with the shortcuts on and off."""

import warnings

import pytest
import torch

from cnnexplorer import zoo
from cnnexplorer.analysis import AnalysisRequest, analyze, meta_shortcuts
from cnnexplorer.analysis.store import encode_analysis

aten = torch.ops.aten


def _analyze(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # inception_v3's note about its weight initialisation
        return analyze(AnalysisRequest.of(name))


@pytest.mark.parametrize("name", zoo.all_names())
def test_every_remade_result_equals_the_meta_kernels_and_the_analysis_is_unchanged(name, monkeypatch):
    monkeypatch.setattr(meta_shortcuts, "ENABLED", False)
    plain = encode_analysis(_analyze(name))
    monkeypatch.setattr(meta_shortcuts, "ENABLED", True)
    monkeypatch.setattr(meta_shortcuts, "CHECK", True)  # raises inside the pass at the first difference
    shortcut = _analyze(name)
    assert meta_shortcuts.hits > 0 or name.startswith(("alexnet", "vgg", "squeezenet"))  # no op they run repeats
    assert encode_analysis(shortcut) == plain


def _meta(*shape, dtype=torch.float32):
    return torch.empty(shape, device="meta", dtype=dtype)


def test_a_repeated_signature_is_remade_with_the_kernels_shape_strides_and_dtype(monkeypatch):
    monkeypatch.setattr(meta_shortcuts, "CHECK", True)
    x = _meta(2, 8, 5, 5).to(memory_format=torch.channels_last)
    weight, bias = _meta(5), _meta(5)
    with meta_shortcuts.recording():
        first = meta_shortcuts.output(aten.gelu.default, (x,), {})
        again = meta_shortcuts.output(aten.gelu.default, (x,), {})
        norms = [meta_shortcuts.output(aten.native_layer_norm.default, (x, [5], weight, bias, 1e-5), {}) for _ in "ab"]
        assert meta_shortcuts.hits == 2
    assert again.stride() == first.stride() == x.stride()  # channels-last kept, as the kernel keeps it
    assert again is not first and again.untyped_storage()._cdata != first.untyped_storage()._cdata
    assert [tuple(t.shape) for t in norms[1]] == [(2, 8, 5, 5), (2, 8, 5, 1), (2, 8, 5, 1)]


def test_scalars_equal_in_value_but_not_in_type_are_different_signatures():
    integers = _meta(3, dtype=torch.int64)
    with meta_shortcuts.recording():
        dtypes = [meta_shortcuts.output(aten.add.Tensor, (integers, value), {}).dtype for value in (1, 1.0, True, 1)]
        assert meta_shortcuts.hits == 1  # the second 1 only
    assert dtypes == [torch.int64, torch.float32, torch.int64, torch.int64]


def test_an_output_in_its_inputs_storage_is_left_to_the_kernel():
    # _unsafe_view's schema declares no alias, yet its result shares the input's storage:
    # the training-memory estimate counts storages, so a fresh tensor would count it twice.
    x = _meta(4, 6)
    with meta_shortcuts.recording():
        views = [meta_shortcuts.output(aten._unsafe_view.default, (x, [24]), {}) for _ in "ab"]
        assert meta_shortcuts.hits == 0
    assert all(v.untyped_storage()._cdata == x.untyped_storage()._cdata for v in views)


def test_an_in_place_op_returns_its_argument_and_resize_is_left_to_the_kernel():
    x = _meta(2, 3)
    with meta_shortcuts.recording():
        assert meta_shortcuts.output(aten.tanh_.default, (x,), {}) is x
        assert meta_shortcuts.output(aten.tanh_.default, (x,), {}) is x
        assert meta_shortcuts.hits == 1
        for tensor in (_meta(2, 3), _meta(2, 3)):  # same signature; resize_ changes the tensor's shape
            assert tuple(meta_shortcuts.output(aten.resize_.default, (tensor, [7]), {}).shape) == (7,)
        assert meta_shortcuts.hits == 1


def test_views_and_tensors_with_values_run_their_kernels():
    x, values = _meta(4, 6), torch.arange(6.0)
    with meta_shortcuts.recording():
        views = [meta_shortcuts.output(aten.view.default, (x, [24]), {}) for _ in "ab"]
        sums = [meta_shortcuts.output(aten.add.Tensor, (values, values), {}) for _ in "ab"]
        assert meta_shortcuts.hits == 0
    assert all(v._base is x for v in views)
    assert all(torch.equal(s, values * 2) for s in sums)


def test_element_wise_results_keep_a_permuted_layout_as_the_kernel_does(monkeypatch):
    # A residual addition of channels-last maps (ConvNeXt, Swin): the kernel's result is
    # channels-last too, not contiguous (a view of it would fail where a contiguous one would not).
    monkeypatch.setattr(meta_shortcuts, "CHECK", True)
    x, y = (_meta(1, 7, 7, 96).permute(0, 3, 1, 2) for _ in "xy")
    with meta_shortcuts.recording():
        sums = [meta_shortcuts.output(aten.add.Tensor, (x, y), {}) for _ in "ab"]
        plain = meta_shortcuts.output(aten.add.Tensor, (x.contiguous(), y.contiguous()), {})
    assert sums[0].stride() == sums[1].stride() == x.stride() == (4704, 1, 672, 96)
    assert plain.stride() == (4704, 49, 7, 1)


def test_outside_a_pass_every_op_runs_its_kernel():
    x, before = _meta(3), meta_shortcuts.hits
    for _ in "ab":
        meta_shortcuts.output(aten.gelu.default, (x,), {})
    assert meta_shortcuts.hits == before
