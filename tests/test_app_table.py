"""The explorer's layer table, its details pane and the diff screen's columns (issue 24,
items 1-4), driven by keys through Textual's pilot and read back from the painted screen.

Every check compares what is painted with the analysis itself: a cell is whole when its
painted text equals the full value, and the titles sit over their values."""

import pytest

from cnnexplorer import units
from cnnexplorer.analysis.results import shown_figures
from cnnexplorer.analysis.structure import repeat_label
from cnnexplorer.app import make_app
from cnnexplorer.app.screens.diff_screen import COLUMN_INDEX, DiffScreen
from cnnexplorer.app.widgets.details import DetailsPanel
from cnnexplorer.app.widgets.layer_tree import LayerTree
from cnnexplorer.diff import diff_analyses
from tests.conftest import analysed, settle

SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x60": (200, 60)}


def screen_lines(app) -> list[str]:
    """The text of every row of the screen as painted."""
    update = app.screen._compositor.render_update(full=True)
    return ["".join(strip.text for strip in line) for line in update.strips]


def table_lines(app) -> tuple[str, list[str]]:
    """The layer table's header and rows as painted (the zoo's columns left of it cut off)."""
    tree = app.screen.query_one(LayerTree)
    left = tree.region.x
    lines = screen_lines(app)
    header = lines[tree.region.y - 1][left : tree.region.right]
    return header, [line[left : tree.region.right] for line in lines[tree.region.y : tree.region.bottom]]


def painted_spans(table) -> list[tuple[str, int, int]]:
    """(key, start, end) of each diff column in view, x within the table; asserts that none is
    in view in part (the fixed columns, then the scrolled ones past ``scroll_x``)."""
    spans, x, width = [], 0, table.scrollable_content_region.width
    fixed_end = sum(column.get_render_width(table) for column in table.ordered_columns[: table.fixed_columns])
    for index, column in enumerate(table.ordered_columns):
        start = x if index < table.fixed_columns else x - round(table.scroll_x)
        end = start + column.get_render_width(table)
        x += column.get_render_width(table)
        if index >= table.fixed_columns and (end <= fixed_end or start >= width):
            continue  # scrolled out of view
        assert (index < table.fixed_columns or start >= fixed_end) and end <= width, (column.key.value, start, end)
        spans.append((column.key.value, start, end))
    return spans


def title_end(header: str, title: str) -> int:
    """Where a (right-aligned) column title ends in the header."""
    start = f" {header} ".find(f" {title} ")
    assert start >= 0, (title, header)
    return start + len(title)


async def test_details_pane_takes_focus_scrolls_to_the_formulas_and_maximises(shared_cache):
    """Item 1: at 80x24 the details of conv1 show seven lines; Tab focuses the pane, the
    keys scroll it to the MACs formula, f gives it the whole screen."""
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    formula = "16·32·32 × 3·3·3 = 442,368"  # conv1: 16 output channels of 32x32, 3x3 kernels over 3
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("tab", "v", "down")
        await settle(pilot)
        details = app.screen.query_one(DetailsPanel)
        assert details.node.path == "conv1"
        assert not any(formula in line for line in screen_lines(app))  # below the pane's end
        await pilot.press("tab")
        assert app.screen.focused is details
        await pilot.press("end")
        await pilot.pause()
        assert any(formula in line for line in screen_lines(app))
        height = details.region.height
        await pilot.press("home", "f")
        await pilot.pause()
        assert app.screen.maximized is details and details.region.height > 2 * height
        assert any(formula in line for line in screen_lines(app))  # all of it at once
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.maximized is None


def full_values(node) -> dict[str, str]:
    """The whole text of a layer's cells, by column title, from the analysis."""
    params, macs = shown_figures(node)
    return {
        "type": repeat_label(node) or node.type,
        "output": units.shape(node.output_shape),
        "params": units.count(params) if params else "-",
        "MACs": units.count(macs) if macs else "-",
        "act mem": units.size(node.activation_bytes) if node.activation_bytes else "-",
    }


def assert_cells_whole(app) -> set[str]:
    """Every painted cell of the layer table is its full value from the analysis, under its
    title (text from the title's start, figures to its end); returns the titles painted."""
    tree = app.screen.query_one(LayerTree)
    header, rows = table_lines(app)
    titles = {
        title
        for title in ("type", "output", "params", "MACs", "MACs%", "RF", "act mem")
        if f" {title} " in f" {header} "
    }
    assert titles
    for y, row in enumerate(rows):
        item = tree.get_node_at_line(tree.scroll_offset.y + y)
        if item is None:
            break
        for title, full in full_values(item.data).items():
            if title not in titles:
                continue
            end = title_end(header, title)
            if title in ("type", "output"):
                start = end - len(title)
                assert row[start : start + len(full) + 1] == full + " ", (item.data.path, title, row)
            else:
                assert row[end - len(full) - 1 : end] == " " + full, (item.data.path, title, row)
    return titles


async def test_table_columns_are_whole_and_reachable_with_the_zoo_at_80x24(shared_cache):
    """Item 2: with the zoo shown at 80x24 the table shows whole columns beside a tree
    column no wider than its names, and → reaches every column the screen lacks room for."""
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("m", "tab")
        await settle(pilot)
        assert app.screen.focused is app.screen.query_one(LayerTree)
        titles = assert_cells_whole(app)
        assert {"type", "output"} <= titles  # beside a tree column of 'resnet20' and its blocks
        for _ in range(6):
            await pilot.press("right")
            await pilot.pause()
            titles |= assert_cells_whole(app)
        assert {"type", "output", "params", "MACs", "MACs%", "RF"} <= titles
        await pilot.press(*["left"] * 6)
        await pilot.pause()
        assert "type" in assert_cells_whole(app)


async def test_vgg16_shapes_are_whole_at_120x40_and_200x60(shared_cache):
    """Item 2: VGG16's 128x112x112 outputs were cut at 120x40 beside a half-empty tree column."""
    app = make_app("vgg16", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("tab", "2")
        await settle(pilot)
        assert_cells_whole(app)
        header, rows = table_lines(app)
        assert any("128x112x112" in row for row in rows)
        assert "128x112x1…" not in "".join(rows)
        await pilot.resize_terminal(200, 60)
        await settle(pilot)
        titles = assert_cells_whole(app)
        assert {"type", "output", "params", "MACs", "MACs%", "RF"} <= titles


async def test_header_stays_over_the_values_with_and_without_the_scrollbar(shared_cache):
    """Item 3: at 120x40 the titles end where the values end, whether the rows need the
    vertical scrollbar (depth 3) or not (depth 1)."""
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("tab")
        for depth, scrolls in (("1", False), ("3", True), ("1", False)):
            await pilot.press(depth)
            await settle(pilot)
            tree = app.screen.query_one(LayerTree)
            assert (tree.virtual_size.height > tree.scrollable_content_region.height) is scrolls
            assert tree.max_scroll_x == 0  # no sideways overflow that shifts the rows alone
            header, rows = table_lines(app)
            for title in ("params", "MACs"):
                end = title_end(header, title)
                for row in rows:
                    if row.strip():
                        assert row[end - 1] != " " and row[end] == " ", (title, header, row)


async def test_costliest_by_memory_c_keeps_the_open_blocks_and_depth_keys_work_after_a_search(shared_cache):
    """Item 4: the memory view shows the memory it ranks by; cycling back to the tree keeps
    the blocks the user opened and the cursor; after `1`, a search that opens layer3.2 and
    Esc, the title says blocks were opened past depth 1, and `1` folds them again."""
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(LayerTree)
        table = app.screen.query_one("#layer-table")
        await pilot.press("tab", "down", "down", "down", "down", "down", "space", "down")
        await pilot.pause()
        assert tree._items["layer2"].is_expanded and tree.highlighted_path == "layer2.0"
        await pilot.press("c", "c", "c")
        await settle(pilot)
        header, rows = table_lines(app)
        assert "act mem" in header and "by activation memory" in table.border_title
        ranked = [item.data for item in tree.root.children]
        end = title_end(header, "act mem")
        for row, node in zip(rows[1:], ranked):
            assert row[:end].rstrip().endswith(units.size(node.activation_bytes)), row
        assert [n.activation_bytes for n in ranked] == sorted((n.activation_bytes for n in ranked), reverse=True)
        await pilot.press("c")
        await settle(pilot)
        assert tree.ranking is None and tree._items["layer2"].is_expanded
        assert not tree._items["layer1"].is_expanded and tree.highlighted_path == "layer2.0"

        await pilot.press("1", "slash", *"layer3.2.conv2", "escape")
        await settle(pilot)
        assert tree.highlighted_path == "layer3.2.conv2" and tree._items["layer3.2"].is_expanded
        assert "depth 1 (+2 opened)" in table.border_title
        await pilot.press("1")
        await settle(pilot)
        assert not tree._items["layer3"].is_expanded
        assert "opened" not in table.border_title and "depth 1" in table.border_title
        await pilot.press("2")
        await settle(pilot)
        assert tree._items["layer3"].is_expanded and "depth 2" in table.border_title


async def test_s_and_a_click_on_a_title_sort_and_y_copies_the_path(shared_cache):
    """Sorting by any column (s cycles, S reverses, a click on a title) keeps the tree; y
    copies the highlighted layer's path and says so."""
    app = make_app("vgg16", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("tab", "2")
        await settle(pilot)
        tree = app.screen.query_one(LayerTree)

        def params_order():  # the tree is built again on each sort: its items are new
            return [shown_figures(item.data)[0] for item in tree._items["features"].children]

        await pilot.press("s", "s", "s", "s")  # name, type, output, params
        await pilot.pause()
        assert tree.sort == ("params", True) and tree._items["features"].is_expanded
        assert params_order() == sorted(params_order(), reverse=True) and params_order()[0] == 2359808
        await pilot.press("S")
        assert params_order() == sorted(params_order())
        header = tree.header().plain
        x = title_end(header, "MACs") - 1
        await pilot.click("#layers-header", offset=(x, 0))
        await pilot.pause()
        features = tree._items["features"]
        macs = [shown_figures(item.data)[1] for item in features.children]
        assert tree.sort == ("macs", True) and macs == sorted(macs, reverse=True)
        assert "sorted by macs" in app.screen.query_one("#layer-table").border_title
        tree.move_cursor(features.children[0])
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        path = features.children[0].data.path
        assert app.clipboard == path and path.startswith("features.")
        assert any(f"Copied {path}" == note.message for note in app._notifications)


async def test_diff_at_80x24_cuts_nothing_and_arrows_reach_every_column(shared_cache):
    """Item 2: the diff of vgg16 and resnet18 at 80x24 cut `64x56x56→1…`, `layer1→featu…`,
    `Sequent…`; now every painted cell is whole, and → scrolls to the columns beyond the
    edge, marker and layer staying."""
    diff = diff_analyses(analysed("resnet18"), analysed("vgg16"))
    app = make_app("resnet18", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.push_screen(DiffScreen(diff))
        await pilot.pause()
        screen = app.screen
        table = screen.table
        seen = set()
        for _ in range(8):
            lines = screen_lines(app)
            header = lines[table.region.y]
            seen |= {cell.strip() for cell in header.split("  ") if cell.strip()}
            spans = painted_spans(table)
            assert [key for key, _start, _end in spans[:2]] == ["marker", "layer"]  # they stay in view
            for row, texts in zip(lines[table.region.y + 1 : table.region.bottom - 1], screen.cells):
                for key, start, end in spans:  # every column in view is whole, its cells whole
                    full = texts[COLUMN_INDEX[key]].strip()
                    painted = row[table.region.x + start + 1 : table.region.x + end - 1].strip()
                    if key == "changes" and painted.endswith("…"):  # the free text alone: its start, … (⏎ shows it)
                        assert full.startswith(painted[:-1]), (painted, full)
                    else:
                        assert painted == full, (key, painted, full)
            await pilot.press("right")
            await pilot.pause()
        assert {"layer", "type", "output", "L params", "R params", "Δparams", "ΔMACs", "changes"} <= seen
        assert any("layer1→features" in line for line in screen_lines(app))


@pytest.mark.parametrize("size", SIZES, ids=SIZES)
def test_snapshot_details_maximised(snap_compare, shared_cache, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("tab", "down", "f")
        await settle(pilot)

    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=SIZES)
def test_snapshot_costliest_by_memory(snap_compare, shared_cache, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("tab", "c", "c", "c")
        await settle(pilot)

    app = make_app("vgg16", cache=shared_cache, zoo_stats=False)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=SIZES)
def test_snapshot_diff(snap_compare, shared_cache, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.app.push_screen(DiffScreen(diff_analyses(analysed("resnet18"), analysed("vgg16"))))
        await pilot.pause()
        await pilot.pause()

    app = make_app("resnet18", cache=shared_cache, zoo_stats=False)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)
