"""alexnet-2012 against the course table, derived by hand (input 227x227x3, batch 1)."""

import pytest

# layer: (output C, H, W, params = weights + biases, MACs = output elements x inputs per output)
HAND = {
    "features.conv1": ((96, 55, 55), 11 * 11 * 3 * 96 + 96, 55 * 55 * 96 * (11 * 11 * 3)),
    "features.pool1": ((96, 27, 27), 0, 0),
    "features.lrn1": ((96, 27, 27), 0, 0),
    "features.conv2": ((256, 27, 27), 5 * 5 * 96 * 256 + 256, 27 * 27 * 256 * (5 * 5 * 96)),
    "features.pool2": ((256, 13, 13), 0, 0),
    "features.lrn2": ((256, 13, 13), 0, 0),
    "features.conv3": ((384, 13, 13), 3 * 3 * 256 * 384 + 384, 13 * 13 * 384 * (3 * 3 * 256)),
    "features.conv4": ((384, 13, 13), 3 * 3 * 384 * 384 + 384, 13 * 13 * 384 * (3 * 3 * 384)),
    "features.conv5": ((256, 13, 13), 3 * 3 * 384 * 256 + 256, 13 * 13 * 256 * (3 * 3 * 384)),
    "features.pool3": ((256, 6, 6), 0, 0),
    "classifier.fc1": ((4096,), 9216 * 4096 + 4096, 9216 * 4096),
    "classifier.fc2": ((4096,), 4096 * 4096 + 4096, 4096 * 4096),
    "classifier.fc3": ((1000,), 4096 * 1000 + 1000, 4096 * 1000),
}


@pytest.mark.parametrize("path", HAND)
def test_every_row_equals_the_hand_derivation(path, analysis_of):
    node = analysis_of("alexnet-2012").node(path)
    shape, params, macs = HAND[path]
    assert node.output_shape == (1, *shape)
    assert node.params == params
    assert node.macs == macs
    assert node.flops == 2 * macs
    assert node.activation_bytes == 4 * (shape[0] * (shape[1] * shape[2] if len(shape) == 3 else 1))


def test_the_course_table_rows_agree_with_ours_where_its_arithmetic_is_right(analysis_of):
    analysis = analysis_of("alexnet-2012")
    course_params = {"conv1": 34_944, "conv2": 614_656, "conv3": 885_120, "conv4": 1_327_488,
                     "conv5": 884_992, "fc1": 37_752_832, "fc2": 16_781_312, "fc3": 4_097_000}  # fmt: skip
    for name, params in course_params.items():
        path = ("features." if name.startswith("conv") else "classifier.") + name
        assert analysis.node(path).params == params
    # The course's total row says 61,378,344; the sum of its own rows, and ours, is 62,378,344.
    assert analysis.totals.params == sum(course_params.values()) == 62_378_344
    # Its conv2 figure (448.1M) is an arithmetic slip: 27*27*256*5*5*96 = 447.9M.
    assert analysis.node("features.conv2").macs == 447_897_600


def test_total_macs_is_the_sum_of_the_rows(analysis_of):
    analysis = analysis_of("alexnet-2012")
    assert analysis.totals.macs == sum(macs for _, _, macs in HAND.values()) == 1_135_256_096


def test_two_tower_alexnet_has_the_paper_61m_parameters(analysis_of):
    analysis = analysis_of("alexnet-2012-2gpu")
    # conv2, conv4, conv5 only see their own GPU's half of the input channels.
    expected = {
        "features.conv2": 5 * 5 * 48 * 256 + 256,
        "features.conv4": 3 * 3 * 192 * 384 + 384,
        "features.conv5": 3 * 3 * 192 * 256 + 256,
        "features.conv3": 3 * 3 * 256 * 384 + 384,  # conv3 connects across GPUs
    }
    for path, params in expected.items():
        assert analysis.node(path).params == params
    assert analysis.node("features.conv2").groups == 2
    assert analysis.totals.params == 60_965_224
    assert round(analysis.totals.params / 1e6) == 61


def test_alexnet_2012_has_lrn_after_the_first_two_conv_blocks_and_dropout_in_the_fc_layers(analysis_of):
    types = [(n.name, n.type) for n in analysis_of("alexnet-2012").layers if n.is_leaf]
    names = [name for name, _ in types]
    assert [t for _, t in types].count("LocalResponseNorm") == 2
    assert names.index("lrn1") < names.index("conv2") and names.index("lrn2") < names.index("conv3")
    assert [t for _, t in types].count("Dropout") == 2


def test_course_format_prints_recomputed_rows_and_a_true_total(analysis_of):
    from cnnexplorer.render.summary import course_rows, render_course

    analysis = analysis_of("alexnet-2012")
    rows = course_rows(analysis)
    assert [r["layer"] for r in rows] == [
        "input", "conv1", "pool1", "lrn1", "conv2", "pool2", "lrn2", "conv3", "conv4", "conv5",
        "pool3", "flatten", "fc1", "fc2", "fc3",
    ]  # fmt: skip
    conv1 = rows[1]
    assert (conv1["input"], conv1["kernel"], conv1["filters"], conv1["stride"], conv1["padding"], conv1["output"]) == (
        "227x227x3", "11x11", 96, 4, 0, "55x55x96")  # fmt: skip
    assert conv1["activation"] == "ReLU"
    assert rows[12]["activation"].startswith("ReLU + Dropout")
    text = render_course(analysis)
    assert "**62,378,344**" in text
    assert "447.9M" in text and "105.4M" in text
