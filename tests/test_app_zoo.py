"""The zoo pane, the stage bars, the zoo chart and the header's notices (issue 24, items 7, 8
and 9), and the zoo's visibility remembered between sessions. Figures are checked against
the analysis (stage MACs and params) and the zoo's own names; what is checked is what the
screen shows."""

import re

import pytest

from cnnexplorer import units
from cnnexplorer.analysis.structure import stages
from cnnexplorer.app import make_app
from cnnexplorer.settings import load_settings
from cnnexplorer.zoo import ARCHITECTURES, more_names
from tests.conftest import analysed, settle

SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x60": (200, 60)}
EIGHTHS = " ▏▎▍▌▋▊▉"


def screen_strips(app):
    return app.screen._compositor.render_strips()


def region_text(app, widget) -> list[str]:
    """The lines of the screen inside ``widget``'s content region."""
    region = widget.content_region
    lines = [strip.text for strip in screen_strips(app)]
    return [line[region.x : region.right] for line in lines[region.y : region.bottom]]


def bar_cells(line: str) -> float:
    """The length of the bar drawn in ``line``, in cells: full blocks, plus a partial one."""
    return sum(1.0 if char == "█" else EIGHTHS.index(char) / 8 for char in line if char == "█" or char in EIGHTHS[1:])


@pytest.fixture
def small_net(tmp_path):
    path = tmp_path / "mynet.py"
    path.write_text(
        "import torch.nn as nn\n\n\n"
        "class SmallNet(nn.Module):\n"
        "    def __init__(self, num_classes=10):\n"
        "        super().__init__()\n"
        "        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))\n"
        "        self.classifier = nn.Linear(8, num_classes)\n\n"
        "    def forward(self, x):\n"
        "        return self.classifier(self.features(x).flatten(1))\n"
    )
    return f"{path}:SmallNet"


def cursor_in_view(zoo) -> bool:
    top, rows = zoo.scroll_offset.y, zoo.scrollable_content_region.height
    return top <= zoo.cursor_line < top + rows


# Item 7: the zoo ---------------------------------------------------------------------------


async def test_a_user_models_row_stays_in_view_and_is_highlighted_after_tab(shared_cache, small_net):
    app = make_app(small_net, cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        zoo = app.screen.query_one("#zoo")
        assert zoo.cursor_node.data == small_net and cursor_in_view(zoo)
        await pilot.resize_terminal(120, 32)  # the pane shrinks under the cursor (as when the header grows)
        await settle(pilot)
        assert cursor_in_view(zoo)
        await pilot.press("tab", "shift+tab")  # to the table and back into the zoo
        await pilot.pause()
        assert app.focused is zoo
        row = zoo.content_region.y + zoo.cursor_line - zoo.scroll_offset.y
        strip = screen_strips(app)[row]
        cursor = zoo.get_component_rich_style("tree--cursor")
        name = [segment for segment in strip if "SmallNet" in segment.text]
        assert name and name[0].style.bgcolor == cursor.bgcolor  # the highlighted row, on screen


async def test_the_zoo_grows_with_the_screen_so_that_names_are_whole_at_200_columns(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#layer-table")  # right of the zoo pane: its x is the pane's width
        names = [arch.name for arch in ARCHITECTURES] + more_names()
        assert max(map(len, names)) + 17 <= table.region.x <= 200 // 4  # whole names, within a quarter
        await pilot.press("ctrl+f", *"mobilenet_v3")
        await pilot.pause()
        shown = "\n".join(region_text(app, app.screen.query_one("#zoo")))
        assert "mobilenet_v3_large" in shown and "mobilenet_v3_small" in shown and "…" not in shown
        await pilot.resize_terminal(120, 40)  # narrower: back to 34 columns, names cut in the middle
        await settle(pilot)
        assert table.region.x == 34
        assert "mobilene…v3_large" in "\n".join(region_text(app, app.screen.query_one("#zoo")))


async def test_the_filter_narrows_every_group_including_more(shared_cache):
    app = make_app("resnet32", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        zoo = app.screen.query_one("#zoo")
        everything = [arch.name for arch in ARCHITECTURES] + sorted(more_names())
        await pilot.press("ctrl+f", *"net_v")  # in "more" only: mobilenet_v2, efficientnet_v2_s, ...
        await pilot.pause()
        listed = [line.node.data for line in zoo._tree_lines if line.node.data is not None]
        assert listed == [name for name in everything if "net_v" in name] and len(listed) >= 5
        shown = "\n".join(region_text(app, zoo))
        assert all(name in shown for name in listed if len(name) <= 17)  # "more" unfolded (34 columns)
        await pilot.press("escape")  # cleared: everything again, the model shown unchanged
        await pilot.pause()
        listed = [line.node.data for line in zoo._tree_lines if line.node.data is not None]
        assert listed == [arch.name for arch in ARCHITECTURES]  # "more" folded again
        assert app.screen.model_name == "resnet32"
        await pilot.press("ctrl+f", *"zzz", "enter")  # no match: enter opens nothing
        await settle(pilot)
        assert app.screen.model_name == "resnet32" and not zoo.highlighted
        await pilot.press("escape")
        first = next(name for name in everything if "wrn" in name and "8" in name)  # every word
        await pilot.press("ctrl+f", *"wrn 8", "enter")  # enter opens the first match
        await settle(pilot)
        assert app.screen.analysis.name == first and app.focused is zoo


# Item 8: stage bars and the zoo chart --------------------------------------------------------


async def test_stage_bars_are_proportional_at_80x24_and_escape_closes_them(shared_cache):
    expected = stages(analysed("resnet20"))
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        drawn = {}
        for panel, values in (
            ("#macs-plot", [s.macs for s in expected]),
            ("#params-plot", [s.params for s in expected]),
        ):
            widget = app.screen.query_one(panel)
            lines = region_text(app, widget)
            rows = [next(line for line in lines if re.search(rf"\b{stage.label}\b", line)) for stage in expected]
            lengths = [bar_cells(row) for row in rows]
            full = max(lengths)
            assert full >= widget.content_region.width / 2  # the longest bar takes the room there is
            for value, length in zip(values, lengths):
                assert abs(length - value / max(values) * full) <= 1, (panel, values, lengths)
            assert all(row.rstrip().endswith(units.count(value)) for row, value in zip(rows, values))  # its value
            drawn[panel] = lengths
        macs = dict(zip([s.label for s in expected], drawn["#macs-plot"]))
        assert macs["layer2"] == macs["layer3"] < macs["layer1"]  # 13M, 13M and 14.2M
        await pilot.press("escape")
        await pilot.pause()
        assert not app.screen.query_one("#plots").display


async def test_the_zoo_charts_legend_covers_no_point_and_its_cut_list_says_it_scrolls(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        curated = {arch.name for arch in ARCHITECTURES}
        for _ in range(200):  # the zoo's figures are counted in the background: the chart shows those known
            if curated <= set(app.screen.zoo_rows):
                break
            await pilot.pause(0.05)
        rows = [row for row in app.screen.zoo_rows.values() if row.name in curated and row.acc5 is not None]
        await pilot.press("z")
        await pilot.pause()
        chart = app.screen.query_one("#zoo-chart")
        plot = region_text(app, chart)
        markers = [(y, x) for y, line in enumerate(plot) for x, char in enumerate(line) if char in "●■▲◆✚★"]
        alexnet = [(y, x) for y, x in markers if plot[y][x] == "●"]
        assert len(alexnet) == 1 and not any("AlexNet" in line for line in plot)  # the point; no legend over it
        # AlexNet has the fewest GMACs and the highest error of all: the leftmost and topmost point.
        assert max(rows, key=lambda row: 100 - row.acc5).name == min(rows, key=lambda row: row.macs).name == "alexnet"
        assert alexnet[0][0] == min(y for y, _ in markers) and alexnet[0][1] == min(x for _, x in markers)
        last = max(rows, key=lambda row: (row.macs, row.name)).name
        side = "\n".join(region_text(app, app.screen.query_one("#chart-side")))
        assert f"{len(rows)} models" in side and "scroll" in side and last not in side  # cut, and it says so
        await pilot.press("end")
        await pilot.pause()
        assert last in "\n".join(region_text(app, app.screen.query_one("#chart-side")))


# Item 9: the header's notice -----------------------------------------------------------------


async def test_a_header_error_clears_on_the_next_cancelled_dialog_search_or_model(shared_cache):
    params = f"params {units.count(analysed('googlenet').totals.params)}"
    app = make_app("googlenet", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        header = app.screen.query_one("#model-header")

        async def fail_an_input() -> None:
            await pilot.press("i", *"3x8x8", "enter")
            await settle(pilot)
            assert "too small" in str(header.render()) and params in str(header.render())

        await fail_an_input()
        await pilot.press("i", "escape")  # a cancelled dialog
        await settle(pilot)
        assert "too small" not in str(header.render()) and params in str(header.render())
        await fail_an_input()
        await pilot.press("slash", *"inception3a")  # a search
        await pilot.pause()
        assert "too small" not in str(header.render()) and params in str(header.render())
        await pilot.press("escape")  # the search closed: the table has the focus
        await fail_an_input()
        await pilot.press("shift+tab", "up", "up")  # into the zoo, over the family's line, to another model
        await settle(pilot)
        assert "too small" not in str(header.render()) and app.screen.analysis.name != "googlenet"


# Settings: the zoo shown ------------------------------------------------------------------------


async def test_the_zoo_shown_or_hidden_is_remembered_and_a_failed_save_is_one_line(shared_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNEXPLORER_CONFIG_DIR", str(tmp_path / "config"))
    for size, before, after in (((120, 40), True, False), ((120, 40), False, True), ((80, 24), True, False)):
        app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            assert app.screen.has_class("-zoo-hidden") != before  # by the width, then as left last time
            await pilot.press("m")
            await pilot.pause()
            assert app.screen.has_class("-zoo-hidden") != after
        assert load_settings().zoo_shown is after
    (tmp_path / "blocked").write_text("a file where the folder would be")
    monkeypatch.setenv("CNNEXPLORER_CONFIG_DIR", str(tmp_path / "blocked"))
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await pilot.pause()
        assert app.screen.has_class("-zoo-hidden")  # the app went on
        messages = [notification.message for notification in app._notifications]
        assert len(messages) == 1 and "could not save settings" in messages[0] and "\n" not in messages[0]


# Snapshots ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_explorer_with_the_zoo_shown(snap_compare, shared_cache, size):
    async def run_before(pilot):
        await settle(pilot)
        if pilot.app.screen.has_class("-zoo-hidden"):
            await pilot.press("m")
        await settle(pilot)

    assert snap_compare(
        make_app("resnet20", cache=shared_cache, zoo_stats=True), terminal_size=size, run_before=run_before
    )


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_explorer_with_the_zoo_hidden(snap_compare, shared_cache, size):
    async def run_before(pilot):
        await settle(pilot)
        if not pilot.app.screen.has_class("-zoo-hidden"):
            await pilot.press("m")
        await settle(pilot)

    assert snap_compare(
        make_app("resnet20", cache=shared_cache, zoo_stats=True), terminal_size=size, run_before=run_before
    )


def test_stage_bars_at_80x24(snap_compare, shared_cache):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)

    assert snap_compare(
        make_app("resnet20", cache=shared_cache, zoo_stats=True), terminal_size=(80, 24), run_before=run_before
    )
