"""The algebra of receptive fields and positions, on plain values (no torch, no forward
pass), against figures worked out by hand."""

import subprocess
import sys

from cnnexplorer.analysis.field_algebra import (
    BATCH,
    CHANNEL,
    INPUT_FIELD,
    TOKENS,
    H,
    Positions,
    Run,
    W,
    fitted,
    grid_count,
    grid_runs,
    regroup,
    run_extent,
    sliding_window,
    token_run,
    union,
)
from cnnexplorer.analysis.results import ReceptiveField


def test_a_resnet_stem_grows_the_field_as_the_formula_says():
    conv = sliding_window(INPUT_FIELD, kernel=(7, 7), stride=(2, 2), padding=(3, 3))
    assert (conv.size, conv.jump, conv.start) == ((7, 7), (2, 2), (-3, -3))
    pool = sliding_window(conv, kernel=(3, 3), stride=(2, 2), padding=(1, 1))
    # size 7 + (3 - 1) * 2, jump 2 * 2, start -3 - 1 * 2: resnet50's maxpool sees 11 px
    assert (pool.size, pool.jump, pool.start, pool.exact) == ((11, 11), (4, 4), (-5, -5), True)
    dilated = sliding_window(INPUT_FIELD, kernel=(3, 5), stride=(1, 1), dilation=(2, 1))
    assert dilated.size == (5, 5)


def test_a_merge_is_the_union_of_the_intervals_and_says_when_jumps_differ():
    left = ReceptiveField(size=(3, 3), jump=(2, 2), start=(0, 0))
    right = ReceptiveField(size=(3, 5), jump=(2, 2), start=(2, -1))
    merged = union([left, right], "an addition")
    assert (merged.size, merged.start, merged.exact) == ((5, 5), (0, -1), True)  # rows 0..4, columns -1..3
    other_jump = ReceptiveField(size=(3, 3), jump=(4, 4), start=(0, 0))
    assert union([left, other_jump], "an addition").note == "paths with different jumps meet at an addition"
    assert union([left], "an addition") is left


MAP = ((Run(BATCH, 1),), (Run(H, 8),), (Run(W, 8),), (Run(CHANNEL, 4),))  # channels-last 8x8 map


def test_a_window_partition_splits_each_axis_and_merging_it_back_restores_the_map():
    # Swin: (1, 8, 8, 4) viewed as (1, 2, 4, 2, 4, 4): windows x rows in a window, per axis
    windows = regroup(MAP, (1, 2, 4, 2, 4, 4))
    assert windows == (
        (Run(BATCH, 1),),
        (Run(H, 2, step=4),),
        (Run(H, 4),),
        (Run(W, 2, step=4),),
        (Run(W, 4),),
        (Run(CHANNEL, 4),),
    )
    assert regroup(windows, (1, 8, 8, 4)) == MAP


def test_a_flattened_map_keeps_both_axes_in_one_and_an_uneven_split_is_not_followed():
    tokens = regroup(MAP, (1, 64, 4))
    assert tokens == ((Run(BATCH, 1),), (Run(H, 8), Run(W, 8)), (Run(CHANNEL, 4),))
    assert grid_runs(tokens[1]) == [Run(H, 8), Run(W, 8)]
    assert regroup(MAP, (1, 3, 8, 8, 4)) is None  # 8 rows are not a multiple of 3


def test_a_class_token_beside_the_grid_is_no_position():
    dim = token_run((Run(H, 14), Run(W, 14)), before=1, after=0)
    assert (dim.axis, dim.count, dim.before, grid_count(dim)) == (TOKENS, 197, 1, 196)
    assert grid_runs((dim,)) == [Run(H, 14), Run(W, 14)]


def test_the_extent_of_a_window_and_of_a_grid_of_positions():
    assert run_extent([Run(H, 4)]) == (4, True)  # a 4-row window
    assert run_extent([Run(H, 2, step=4)]) == (5, False)  # rows 0 and 4: a grid, spanning 5
    assert run_extent([Run(H, 4), Run(H, 2, step=4)]) == (8, True)  # both: the whole 8 rows


def test_positions_fitted_to_new_channels_keep_their_map():
    positions = Positions(((Run(BATCH, 1),), (Run(CHANNEL, 3),), (Run(H, 8),), (Run(W, 8),)), (8, 8))
    widened = fitted(positions, (1, 64, 8, 8))
    assert widened.dims == ((Run(BATCH, 1),), (Run(CHANNEL, 64),), (Run(H, 8),), (Run(W, 8),))
    assert fitted(positions, (1, 3, 8, 8)) is positions
    assert fitted(positions, (1, 64, 8)) is None  # another number of axes


def test_the_algebra_stands_alone_without_torch():
    code = "import sys, cnnexplorer.analysis.field_algebra; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
