"""Number formatting: short, unambiguous, never in exponent notation."""

import pytest

from cnnexplorer import units


@pytest.mark.parametrize(
    "value, text",
    [
        (96, "96"),
        (999, "999"),
        (34_900, "34.9K"),
        (999_600, "1M"),  # rounds up into the next suffix, never "1000K"
        (40_600_000, "40.6M"),  # resnet20's MACs: not "0.04G"
        (4_089_184_256, "4.09G"),
        (21_018e12, "21P"),  # not "21018T"
        (2.60192418098449751, "2.6"),  # a loss: three significant digits
        (5_230_706_688, "5.23G"),
    ],
)
def test_count(value, text):
    assert units.count(value) == text


@pytest.mark.parametrize(
    "num_bytes, text",
    [(100, "100 B"), (1024, "1 KiB"), (57.7 * 2**20, "57.7 MiB"), (3.28e4 * 2**30, "32 TiB")],
)
def test_size(num_bytes, text):
    assert units.size(num_bytes) == text


def test_percent_marks_small_shares_instead_of_rounding_them_to_zero():
    assert units.percent(1, 100_000) == "<0.1%"
    assert units.percent(0, 10) == "0.0%"
    assert units.percent(5, 100) == "5.0%"
    assert units.percent(5, 0) == "-"
