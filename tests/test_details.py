"""The details panel's facts and the layer table's columns (torch-free rendering of an analysis)."""

import pytest
from textual.app import App

from cnnexplorer import units
from cnnexplorer.app.widgets.layer_tree import COLUMNS, NAME_MIN, fit_columns, last_offset
from cnnexplorer.render.summary import mac_formula, node_facts, param_formula
from tests.conftest import analysed


def _evaluate(formula: str) -> int:
    """A formula as shown (``(3·3·64)·128 + 128``, ``56·56·128 × 3·3·64``) worked out."""
    return eval(formula.replace("·", "*").replace("×", "*"), {"__builtins__": {}})


@pytest.mark.parametrize("name", ["alexnet-2012-2gpu", "resnet50", "googlenet", "densenet-bc-100", "vgg16_bn"])
def test_every_formula_gives_the_engines_count(name):
    # The formulas come from shapes, kernel and groups; the engine counts tensor elements
    # and multiplies by its own rule: two routes to the same number.
    analysis = analysed(name)
    checked = 0
    for node in analysis.root.walk():
        formula = param_formula(node)
        if formula is not None and not node.type.startswith("BatchNorm"):
            assert _evaluate(formula) == node.params, (node.path, formula)
            checked += 1
        formula = mac_formula(node)
        if formula is not None:
            assert _evaluate(formula) == node.macs, (node.path, formula)
    assert checked == analysis.totals.weight_layers + sum(
        1 for n in analysis.root.walk() if n.training_only and n.type in ("Conv2d", "Linear")
    )


def test_a_conv_layer_shows_its_formula_filled_in():
    analysis = analysed("vgg16")
    facts = dict(node_facts(analysis, analysis.node("features.2")))  # conv 64 -> 64, 3x3
    assert facts["params"].startswith("(3·3·64)·64 + 64 = 36,928 · ")
    assert facts["MACs"].startswith("64·224·224 × 3·3·64 = 1,849,688,064 · ")  # outputs × per output
    assert facts["kernel"] == "3x3"


def test_grouped_and_linear_layers():
    analysis = analysed("alexnet-2012-2gpu")
    grouped = next(n for n in analysis.root.walk() if n.groups == 2)
    assert "/2" not in param_formula(grouped) and _evaluate(param_formula(grouped)) == grouped.params
    fc = dict(node_facts(analysis, analysis.node("classifier.fc3")))
    assert fc["params"].startswith("4096·1000 + 1000 = 4,097,000")


def test_pooling_shows_its_kernel_as_convolutions_do_and_no_cost_noise():
    analysis = analysed("resnet50")
    pool = dict(node_facts(analysis, analysis.node("maxpool")))
    assert (pool["kernel"], pool["stride"], pool["padding"]) == ("3x3", "2x2", "1x1")
    assert pool["cost"] == "no parameters, no MACs" and "MACs" not in pool and "params" not in pool


def test_columns_are_shown_whole_from_the_offset_and_the_names_cut_only_for_one():
    widths = {c.key: len(c.title) + 4 for c in COLUMNS}
    need = 16
    every = need + sum(w + 1 for w in widths.values())
    assert len(fit_columns(every, need, widths, COLUMNS)[1]) == len(COLUMNS)
    assert len(fit_columns(every - 1, need, widths, COLUMNS)[1]) == len(COLUMNS) - 1
    for width in range(20, every):
        for offset in range(len(COLUMNS)):
            name_width, shown = fit_columns(width, need, widths, COLUMNS, offset)
            assert shown == COLUMNS[offset : offset + len(shown)]  # a window: none skipped
            assert name_width + sum(widths[c.key] + 1 for c in shown) <= width
            if name_width < need:  # the names give way only so that one column shows
                assert len(shown) == 1 and name_width >= NAME_MIN
        last = last_offset(width, need, widths, COLUMNS)
        assert fit_columns(width, need, widths, COLUMNS, last)[1][-1:] in ((), COLUMNS[-1:])
        if last:
            assert fit_columns(width, need, widths, COLUMNS, last - 1)[1][-1:] != COLUMNS[-1:]


@pytest.mark.parametrize("input_size", [None, (3, 128, 128)])
async def test_the_roots_details_and_the_header_give_one_figure_per_quantity(input_size):
    # GoogLeNet's auxiliary heads run in training only: the root's details give the inference
    # path's MACs and FLOPs, as the header and the summary do, in the same format, and the heads apart.
    from cnnexplorer.app.widgets.model_header import ModelHeader
    from cnnexplorer.render.summary import render_markdown

    analysis = analysed("googlenet", input_size)
    totals, heads = analysis.totals, [n for n in analysis.root.children if n.training_only]
    assert totals.macs == analysis.root.macs - sum(n.macs for n in heads) and heads
    facts = node_facts(analysis, analysis.root)
    by_label = dict(facts)
    flops = units.count(2 * totals.macs)
    assert by_label["FLOPs"] == f"2 × MACs = {flops}"
    assert by_label["MACs"].startswith(f"{totals.macs:,} ")
    assert ("", f"+{sum(n.macs for n in heads):,} in training-only heads") in facts
    assert f"FLOPs {2 * totals.macs:,} ({flops};" in render_markdown(analysis)
    async with _HeaderApp().run_test() as pilot:
        header = pilot.app.query_one(ModelHeader)
        header.show(analysis)
        assert f"FLOPs {flops} " in str(header.content)


class _HeaderApp(App):
    def compose(self):
        from cnnexplorer.app.widgets.model_header import ModelHeader

        yield ModelHeader()
