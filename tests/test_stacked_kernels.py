"""The VGG argument, with the engine's numbers against the course text's C^2 formulas."""

import pytest

from cnnexplorer.analysis.stacked_kernels import compare_stacked_kernels
from cnnexplorer.errors import UsageError


def test_three_3x3_against_one_7x7():
    ((large, stack),) = compare_stacked_kernels(64, 56, 56, (7,))
    assert (large.receptive_field, stack.receptive_field) == (7, 7)
    assert (large.params_per_c2, stack.params_per_c2) == (49, 27)
    assert (large.flops_per_c2hw, stack.flops_per_c2hw) == (98, 54)
    # The text's table says 13 ReLUs for the stack: it is 3, one per convolution.
    assert (large.nonlinearities, stack.nonlinearities) == (1, 3)
    assert stack.convolutions == 3


def test_two_3x3_against_one_5x5_at_another_size():
    ((large, stack),) = compare_stacked_kernels(32, 20, 24, (5,))
    assert (large.receptive_field, stack.receptive_field) == (5, 5)
    assert large.params == 25 * 32 * 32 and stack.params == 18 * 32 * 32
    assert large.macs == 25 * 32 * 32 * 20 * 24 and stack.flops == 36 * 32 * 32 * 20 * 24


@pytest.mark.parametrize("kernel", [3, 4, 6])
def test_kernel_sizes_without_a_3x3_equivalent_are_refused(kernel):
    with pytest.raises(UsageError):
        compare_stacked_kernels(8, 16, 16, (kernel,))


@pytest.mark.parametrize(
    "channels, size, kernel", [(3_000_000_000, 56, 5), (64, 0, 5), (64, 56, 100_001), (64, 100_000, 7)]
)
def test_sizes_past_the_bounds_are_refused_in_one_line(channels, size, kernel):
    with pytest.raises(UsageError) as error:
        compare_stacked_kernels(channels, size, size, (kernel,))
    assert "\n" not in str(error.value)
