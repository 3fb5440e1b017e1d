"""Receptive fields and where a tensor keeps the map's positions: the algebra the
receptive-field tracker (:mod:`cnnexplorer.analysis.receptive_field`) applies op by op,
on plain values (no torch).

Fields: a sliding window grows a field (``size += (k - 1) * d * jump``, ``start -= p * jump``,
``jump *= s``); ops that combine tensors position by position take the union of their
intervals.

Positions: each axis of a tensor holds runs (outermost first): the height or the width at
some step, a token grid with class tokens beside it, or batch and channels. A reshape
regroups the runs (:func:`regroup`): a Swin window partition splits the height into
windows x rows in a window; ViT's ``flatten(2)`` merges height and width into one token axis.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

from cnnexplorer.analysis.results import ReceptiveField

INPUT_FIELD = ReceptiveField(size=(1, 1), jump=(1, 1), start=(0, 0))


def sliding_window(
    field: ReceptiveField,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    note: str | None = None,
) -> ReceptiveField:
    """The field after a sliding window, axis by axis."""
    (size_h, size_w), (jump_h, jump_w), (start_h, start_w) = field.size, field.jump, field.start
    return ReceptiveField(
        size=(size_h + (kernel[0] - 1) * dilation[0] * jump_h, size_w + (kernel[1] - 1) * dilation[1] * jump_w),
        jump=(jump_h * stride[0], jump_w * stride[1]),
        start=(start_h - padding[0] * jump_h, start_w - padding[1] * jump_w),
        approximations=with_note(field.approximations, note),
    )


def with_note(notes: tuple[str, ...], note: str | None) -> tuple[str, ...]:
    return notes if note is None or note in notes else (*notes, note)


def union(fields: list[ReceptiveField], op: str) -> ReceptiveField:
    """The union of the fields of tensors an op combines position by position."""
    if len(fields) == 1:
        return fields[0]
    notes: tuple[str, ...] = ()
    for field in fields:
        for note in field.approximations:
            notes = with_note(notes, note)
    size, jump, start = [], [], []
    for axis in range(2):
        jumps = {f.jump[axis] for f in fields}
        if len(jumps) > 1:
            notes = with_note(notes, f"paths with different jumps meet at {op}")
        low = min(f.start[axis] for f in fields)
        high = max(f.start[axis] + f.size[axis] for f in fields)
        size.append(high - low)
        jump.append(max(jumps))
        start.append(low)
    return ReceptiveField((size[0], size[1]), (jump[0], jump[1]), (start[0], start[1]), notes)


def whole_input(field: ReceptiveField, input_hw: tuple[int, int]) -> ReceptiveField:
    """Every unit sees the whole input: exact, whatever came before."""
    return ReceptiveField(input_hw, (1, 1), (0, 0), (), whole=True)


def approximate(field: ReceptiveField, note: str) -> ReceptiveField:
    return ReceptiveField(field.size, field.jump, field.start, with_note(field.approximations, note))


# Positions ------------------------------------------------------------------------------------

H, W, TOKENS, BATCH, CHANNEL = 0, 1, 2, 3, 4


class Run(NamedTuple):
    """A run of entries of one tensor axis (an axis holds one or more runs, outermost first).

    Along the height or width (``axis`` H or W), entry ``i`` is position ``i * step`` of the
    map; a token run is a grid (``parts``, its own runs) with ``before`` and ``after`` tokens
    that are no position (ViT's class token); batch and channel runs hold no positions.
    """

    axis: int
    count: int
    step: int = 1
    before: int = 0
    after: int = 0
    parts: tuple = ()


class Positions(NamedTuple):
    """Where a tensor keeps the map's positions: the runs of each of its axes, the map's
    positions per spatial axis, and the windows ``(axis, extent)`` its field already spans
    (so that the two products of one window attention grow the field once)."""

    dims: tuple[tuple[Run, ...], ...]
    grid: tuple[int, int]
    windows: frozenset = frozenset()

    def but(self, dims=None, grid=None, windows=None) -> Positions:
        if dims is None and grid is None and (windows is None or windows == self.windows):
            return self
        return Positions(
            self.dims if dims is None else tuple(dims),
            self.grid if grid is None else tuple(grid),  # type: ignore[arg-type]
            self.windows if windows is None else windows,
        )


def grid_runs(dim: tuple[Run, ...]) -> list[Run]:
    """The height and width runs of one tensor axis, a token run's grid included."""
    found: list[Run] = []
    for run in dim:
        if run.axis == TOKENS:
            found.extend(run.parts)
        elif run.axis <= W:
            found.append(run)
    return found


def has_positions(positions: Positions | None) -> bool:
    return positions is not None and _holds_positions(positions.dims)


@functools.lru_cache(maxsize=4096)
def _holds_positions(dims: tuple[tuple[Run, ...], ...]) -> bool:
    return any(run.axis <= TOKENS for dim in dims for run in dim)


def plain_run(dim: tuple[Run, ...]) -> Run | None:
    """The axis's one height or width run at step 1, if that is all the axis holds."""
    return dim[0] if len(dim) == 1 and dim[0].axis <= W and dim[0].step == 1 else None


def channel_runs(size: int) -> tuple[Run, ...]:
    return (Run(CHANNEL, size),) if size != 1 else ()


@functools.lru_cache(maxsize=4096)
def regroup(dims: tuple[tuple[Run, ...], ...], shape: tuple[int, ...]) -> tuple[tuple[Run, ...], ...] | None:
    """The runs of a reshaped tensor's axes (row-major, as view and reshape read memory):
    the input's runs in order, split or merged to the new sizes; None where a run would be
    split unevenly or a token run split at all. (Kept: a network reshapes alike block after block.)"""
    queue = [run for dim in dims for run in dim]
    out = []
    for size in shape:
        taken = []
        if size == 1 and queue and queue[0].count == 1:
            taken.append(queue.pop(0))  # a collapsed axis (1x1 after global pooling) stays one
        need = size
        while need > 1:
            if not queue:
                return None
            run = queue.pop(0)
            if run.count == 1:
                taken.append(run)  # a collapsed axis merged into this one: its position stays
                continue
            if need % run.count == 0:
                taken.append(run)
                need //= run.count
            elif run.count % need == 0 and run.axis != TOKENS:
                inner = run.count // need
                taken.append(run._replace(count=need, step=run.step * inner))
                queue.insert(0, run._replace(count=inner))
                need = 1
            else:
                return None
        out.append(taken)
    if any(run.count != 1 for run in queue):
        return None
    if queue and out:  # trailing collapsed axes (flatten of a 1x1 map) merge into the last axis
        out[-1] += queue
    return tuple(_merged_runs(runs) for runs in out)


def _merged_runs(runs: list[Run]) -> tuple[Run, ...]:
    """Neighbouring runs merged where they read as one: channels with channels, and a
    height or width run with the run just inside it (a window's rows back into the map's)."""
    joined: list[Run] = []
    for run in runs:
        last = joined[-1] if joined else None
        if last is not None and last.axis == run.axis and run.axis in (BATCH, CHANNEL):
            joined[-1] = last._replace(count=last.count * run.count)
        elif last is not None and last.axis == run.axis <= W and last.step == run.step * run.count:
            joined[-1] = run._replace(count=last.count * run.count)
        else:
            joined.append(run)
    return tuple(joined)


def mixed_runs(positions: Positions, dims: list[int]) -> dict[int, list[Run]]:
    """Per spatial axis, the runs held by the tensor axes ``dims``."""
    runs: dict[int, list[Run]] = {H: [], W: []}
    for d in dims:
        for run in grid_runs(positions.dims[d]):
            runs[run.axis].append(run)
    return runs


def run_extent(runs: list[Run]) -> tuple[int, bool]:
    """How many neighbouring positions along one axis some runs span, and whether they
    are one block (a window) rather than positions spread over the map (a grid)."""
    ordered = sorted(runs, key=lambda run: run.step)
    block = ordered[0].step == 1 and all(b.step == a.step * a.count for a, b in zip(ordered, ordered[1:]))
    return sum((run.count - 1) * run.step for run in ordered) + 1, block


def fitted(positions: Positions | None, shape: tuple[int, ...]) -> Positions | None:
    """``positions`` with the batch and channel axes sized to the tensor (a convolution's new
    channels); an axis whose positions do not fit its size holds none."""
    if positions is None or len(positions.dims) != len(shape):
        return None
    if axis_sizes(positions.dims) == shape:
        return positions
    return positions.but([dim if axis_size(dim) == n else channel_runs(n) for dim, n in zip(positions.dims, shape)])


@functools.lru_cache(maxsize=4096)
def axis_sizes(dims: tuple[tuple[Run, ...], ...]) -> tuple[int, ...]:
    """Each axis's size (a pass meets the same few dims again and again: kept)."""
    return tuple(axis_size(dim) for dim in dims)


def axis_size(dim: tuple[Run, ...]) -> int:
    return math.prod(run.count for run in dim)


def token_run(dim: tuple[Run, ...], before: int, after: int) -> Run:
    """A token axis: the grid's runs with ``before`` and ``after`` tokens that are no position."""
    if len(dim) == 1 and dim[0].axis == TOKENS:
        run = dim[0]
        return run._replace(count=run.count + before + after, before=run.before + before, after=run.after + after)
    return Run(TOKENS, axis_size(dim) + before + after, before=before, after=after, parts=dim)


def grid_count(tokens: Run) -> int:
    return tokens.count - tokens.before - tokens.after
