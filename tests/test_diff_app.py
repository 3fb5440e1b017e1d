"""The diff screen in the app: keys driven by Textual's pilot, the table's fit to the terminal's
width, and SVG snapshots under snapshots/test_diff_app/ (deterministic: the diff is computed
before the app starts)."""

import functools

import pytest
from rich.cells import cell_len

from cnnexplorer import units
from cnnexplorer.app import make_app
from cnnexplorer.app.screens.diff_details import DiffDetailsScreen, paired_facts
from cnnexplorer.app.screens.diff_screen import (
    CELL_PADDING,
    COLUMN_INDEX,
    COLUMNS,
    DiffScreen,
    cell_text,
    fit_columns,
    natural_widths,
    row_cells,
)
from cnnexplorer.diff import diff_analyses, visible_rows
from tests.conftest import analysed, settle, wait_for_screen

SIZE = (120, 40)
SIZES = [(80, 24), (120, 40), (200, 60)]


@functools.cache
def diffed(left, right):
    return diff_analyses(analysed(left), analysed(right))


async def loaded(pilot) -> None:
    """Wait until the diff screen has every row in its table (they arrive a batch per frame)."""
    for _ in range(100):
        await pilot.pause()
        if pilot.app.screen.loaded:
            return
    raise AssertionError("the diff screen never finished filling its table")


def diff_app(shared_cache, left, right, only_diff=False):
    """The real app, with the diff screen opened over the explorer once it has settled."""
    app = make_app(left, cache=shared_cache, zoo_stats=False)

    async def open_diff(pilot):
        await settle(pilot)
        await app.push_screen(DiffScreen(diffed(left, right), only_diff=only_diff))
        await loaded(pilot)

    return app, open_diff


def cell(screen, key):
    """The text of column ``key`` in the row under the cursor."""
    index = list(screen.widths).index(key)
    return screen.table.get_row_at(screen.cursor_row)[index].plain


def cut_cells(table, rows):
    """Check every visible cell as painted: the whole text, or its start and an ellipsis.
    Returns how many were cut."""
    cut = 0
    for y in range(1, table.size.height):
        row_index = table.scroll_offset.y + y - 1
        if row_index >= len(rows):
            break
        line = table.render_line(y).text
        x = 0
        for column, full in zip(table.ordered_columns, rows[row_index]):
            if x + column.get_render_width(table) > table.size.width:
                break  # beyond the right edge: ←/→ scroll to it
            width = column.get_render_width(table) - 2 * CELL_PADDING
            painted = line[x + CELL_PADDING : x + CELL_PADDING + width]
            x += column.get_render_width(table)
            if cell_len(full.plain) <= width:
                assert painted.strip() == full.plain.strip(), (painted, full.plain)
            else:
                cut += 1
                assert painted == full.plain[: width - 1] + "…", (painted, full.plain)
    return cut


async def test_d_then_alexnet_2012_diffs_each_side_at_its_own_input(shared_cache):
    app = make_app("alexnet", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("d", *"alexnet-2012", "enter")  # the filter leaves alexnet-2012, then its 2gpu twin
        await wait_for_screen(pilot, DiffScreen)
        assert isinstance(app.screen, DiffScreen)
        diff = app.screen.diff
        assert (diff.left.name, diff.right.name) == ("alexnet", "alexnet-2012")
        assert (diff.left.input_size, diff.right.input_size) == ((3, 224, 224), (3, 227, 227))
        await loaded(pilot)
        await pilot.press("j")
        assert app.screen.current.left.path == "features.0" and app.screen.current.right.path == "features.conv1"


async def test_n_and_N_jump_between_differences_and_the_cursor_follows(shared_cache):
    app, open_diff = diff_app(shared_cache, "vgg16", "vgg19")
    async with app.run_test(size=SIZE) as pilot:
        await open_diff(pilot)
        screen = app.screen
        assert screen.cursor_row == 0 and screen.current.node.path == "features"
        await pilot.press("n")
        assert screen.current.status == "added" and screen.current.right.path == "features.16"
        await pilot.press("n")
        assert screen.current.right.path == "features.17"
        await pilot.press("N")
        assert screen.current.right.path == "features.16"
        await pilot.press("j", "k", "j", "j")
        await pilot.pause()
        assert screen.table.cursor_row == screen.rows.index(screen.current)
        assert screen.current.left.path == "features.16" and screen.current.right.path == "features.18"
        assert cell(screen, "layer").strip() == "16→18"


async def test_one_table_scrolls_both_sides_together_both_ways(shared_cache):
    app, open_diff = diff_app(shared_cache, "resnet50", "wide_resnet50_2")
    async with app.run_test(size=(40, 24)) as pilot:  # narrower than the columns' floors
        await open_diff(pilot)
        table = app.screen.table
        await pilot.press(*"j" * 40)
        await pilot.press(*["down"] * 30)
        await pilot.pause()
        assert table.cursor_row == 70 and table.scroll_y > 40
        assert table.virtual_size.width > table.size.width
        await pilot.press("right", "right")
        await pilot.pause()
        assert table.scroll_x > 0 and table.cursor_row == 70


async def test_f_shows_only_differences_and_keeps_the_place(shared_cache):
    app, open_diff = diff_app(shared_cache, "resnet18", "resnet34")
    async with app.run_test(size=SIZE) as pilot:
        await open_diff(pilot)
        screen = app.screen
        await pilot.press("j")  # bn1, the same on both sides
        await pilot.press("f")
        assert {row.status for row in screen.rows} == {"changed", "added"}
        assert screen.current.node.path == "layer1"  # the first difference after bn1
        await pilot.press("f")
        assert "same" in {row.status for row in screen.rows}
        assert screen.current.node.path == "layer1"


async def test_s_swaps_sides_and_stays_on_the_same_layers(shared_cache):
    app, open_diff = diff_app(shared_cache, "resnet18", "resnet34")
    async with app.run_test(size=SIZE) as pilot:
        await open_diff(pilot)
        screen = app.screen
        await pilot.press("n", "n")
        assert screen.current.status == "added" and screen.current.right.path == "layer1.2"
        assert (cell(screen, "left_params"), cell(screen, "right_params")) == ("", "74K")
        await pilot.press("s")
        assert screen.diff.left.name == "resnet34"
        assert screen.current.status == "removed" and screen.current.left.path == "layer1.2"
        assert (cell(screen, "left_params"), cell(screen, "right_params")) == ("74K", "")
        assert cell(screen, "params_delta") == "-74K"


async def test_enter_opens_both_layers_details_and_escape_goes_back(shared_cache):
    app, open_diff = diff_app(shared_cache, "alexnet", "alexnet-2012")
    async with app.run_test(size=SIZE) as pilot:
        await open_diff(pilot)
        explorer_screen = app.screen_stack[-2]
        await pilot.press("j", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DiffDetailsScreen)
        assert app.screen.row.left.path == "features.0" and app.screen.row.right.path == "features.conv1"
        await pilot.press("escape")
        assert isinstance(app.screen, DiffScreen)
        await pilot.press("enter")
        assert isinstance(app.screen, DiffDetailsScreen)
        await pilot.press("enter")  # enter closes the details too
        assert isinstance(app.screen, DiffScreen)
        await pilot.press("escape")
        assert app.screen is explorer_screen


@pytest.mark.parametrize(("left", "right"), [("vgg16", "vgg19"), ("resnet50", "wide_resnet50_2")])
async def test_at_80_columns_no_cell_is_cut_without_an_ellipsis(shared_cache, left, right):
    app, open_diff = diff_app(shared_cache, left, right)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_diff(pilot)
        screen = app.screen
        table = screen.table
        shown = [COLUMN_INDEX[key] for key in screen.widths]
        cells = [[cell_text(COLUMNS[i], texts[i], "") for i in shown] for texts in screen.cells]
        cut = 0
        for _ in range(3):  # the first screen, then further down
            cut += cut_cells(table, cells)
            await pilot.press("pagedown")
            await pilot.pause()
        numbers = {column.key for column in COLUMNS if column.numeric} & set(screen.widths)
        for texts in screen.cells:  # numbers always fit their column
            assert all(cell_len(texts[i]) <= screen.widths[COLUMNS[i].key] for i in shown if COLUMNS[i].key in numbers)
        assert cut == 0  # the wide outputs (64x56x56→128x56x56) whole: the table scrolls sideways instead


def test_columns_drop_in_the_documented_order():
    diff = diffed("vgg16", "vgg19")
    natural = natural_widths(COLUMNS, [row_cells(row) for row in visible_rows(diff)])
    every = [column.key for column in COLUMNS]
    assert list(fit_columns(natural, 200)) == every
    figures = ["left_params", "right_params", "left_macs", "right_macs"]  # moved right of the changes
    at_80 = fit_columns(natural, 78)
    assert list(at_80) == ["marker", "layer", "output", "params_delta", "macs_delta", "changes", *figures, "type"]
    at_50 = ["marker", "layer", "params_delta", "macs_delta", "changes", *figures, "type", "output"]
    assert list(fit_columns(natural, 50)) == at_50
    for width in (200, 120):
        widths = fit_columns(natural, width)
        assert sum(widths.values()) + 2 * CELL_PADDING * len(widths) == width  # the last column fills the row
    for width in (78, 50):
        assert all(width >= natural[key] for key, width in fit_columns(natural, width).items())  # none cut


def test_per_side_figures_go_before_any_text_is_cut():
    diff = diffed("resnet50", "wide_resnet50_2")
    natural = natural_widths(COLUMNS, [row_cells(row) for row in visible_rows(diff)])
    order = list(fit_columns(natural, 118))
    assert order.index("left_params") > order.index("changes") > order.index("left_macs")
    widths = fit_columns(natural, 118)
    assert all(widths[key] >= natural[key] for key in ("layer", "type", "output", "changes"))


async def test_a_resize_lays_the_columns_out_again_and_keeps_the_row(shared_cache):
    app, open_diff = diff_app(shared_cache, "vgg16", "vgg19")
    async with app.run_test(size=(200, 60)) as pilot:
        await open_diff(pilot)
        screen = app.screen
        await pilot.press("n")
        assert list(screen.widths).index("left_params") < list(screen.widths).index("changes")
        await pilot.resize_terminal(80, 24)
        await loaded(pilot)
        assert list(screen.widths).index("left_params") > list(screen.widths).index("changes")
        assert screen.current.right.path == "features.16"


def test_totals_carry_deltas_in_percent(shared_cache):
    from cnnexplorer.app.screens.diff_screen import percent_delta

    totals = diffed("vgg16", "vgg19").totals
    assert percent_delta(totals["macs"]) == "+26.9%"
    assert percent_delta(totals["weight_layers"]) == "+18.8%"
    assert percent_delta(totals["params"]) == "+" + units.percent(totals["params"].delta, totals["params"].left)


def test_details_pair_facts_by_label():
    left = [("path", "features.0"), ("note", "a"), ("kernel", "11x11")]
    right = [("path", "features.conv1"), ("kernel", "11x11"), ("note", "b"), ("note", "c")]
    assert paired_facts(left, right) == [
        ("path", "features.0", "features.conv1"),
        ("note", "a", "b"),
        ("kernel", "11x11", "11x11"),
        ("note", "", "c"),
    ]


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_vgg16_vgg19_at_the_first_insertion(snap_compare, shared_cache, size):
    app, open_diff = diff_app(shared_cache, "vgg16", "vgg19")

    async def run_before(pilot):
        await open_diff(pilot)
        await pilot.press("n")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_resnet50_wide_resnet50_2_differences_only_at_80_columns(snap_compare, shared_cache):
    app, open_diff = diff_app(shared_cache, "resnet50", "wide_resnet50_2")

    async def run_before(pilot):
        await open_diff(pilot)
        await pilot.press("f")
        await loaded(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_vgg16_vgg19_differences_only_in_monochrome(snap_compare, shared_cache, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app, open_diff = diff_app(shared_cache, "vgg16", "vgg19", only_diff=True)
    assert app.no_color

    assert snap_compare(app, terminal_size=SIZE, run_before=open_diff)


def test_alexnet_details_of_conv1(snap_compare, shared_cache):
    app, open_diff = diff_app(shared_cache, "alexnet", "alexnet-2012")

    async def run_before(pilot):
        await open_diff(pilot)
        await pilot.press("j", "enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
