"""The diff screen in the app: keys driven by Textual's pilot, and SVG snapshots under
snapshots/test_diff_app/ (deterministic: the diff is computed before the app starts)."""

import functools

from cnnexplorer.app import make_app
from cnnexplorer.app.screens.diff_details import DiffDetailsScreen
from cnnexplorer.app.screens.diff_screen import DiffScreen
from cnnexplorer.diff import diff_analyses
from tests.conftest import analysed, settle

SIZE = (130, 40)


@functools.cache
def diffed(left, right):
    return diff_analyses(analysed(left), analysed(right))


def diff_app(shared_cache, left, right, only_diff=False):
    """The real app, with the diff screen opened over the explorer once it has settled."""
    app = make_app(left, cache=shared_cache, zoo_stats=False)

    async def open_diff(pilot):
        await settle(pilot)
        await app.push_screen(DiffScreen(diffed(left, right), only_diff=only_diff))
        await pilot.pause()

    return app, open_diff


async def test_n_and_N_jump_between_differences_and_both_panes_follow(shared_cache):
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
        left, right = screen.panes
        assert left.cursor_row == right.cursor_row == screen.rows.index(screen.current)
        assert screen.current.left.path == "features.16" and screen.current.right.path == "features.18"


async def test_panes_stay_scroll_locked_from_either_pane(shared_cache):
    app, open_diff = diff_app(shared_cache, "resnet50", "wide_resnet50_2")
    async with app.run_test(size=SIZE) as pilot:
        await open_diff(pilot)
        left, right = app.screen.panes
        await pilot.press(*"j" * 40)
        await pilot.pause()
        assert left.scroll_y > 0 and left.scroll_y == right.scroll_y
        await pilot.press("tab")
        assert app.focused is right
        await pilot.press(*["down"] * 30)
        await pilot.pause()
        assert left.cursor_row == right.cursor_row == 70
        assert left.scroll_y == right.scroll_y > 40


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
        await pilot.press("s")
        assert screen.diff.left.name == "resnet34"
        assert screen.current.status == "removed" and screen.current.left.path == "layer1.2"
        assert screen.panes[0].border_title == "left: resnet34"


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
        await pilot.press("escape")
        assert app.screen is explorer_screen


def test_vgg16_vgg19_at_the_first_insertion(snap_compare, shared_cache):
    app, open_diff = diff_app(shared_cache, "vgg16", "vgg19")

    async def run_before(pilot):
        await open_diff(pilot)
        await pilot.press("n")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_resnet50_wide_resnet50_2_differences_only(snap_compare, shared_cache):
    app, open_diff = diff_app(shared_cache, "resnet50", "wide_resnet50_2")

    async def run_before(pilot):
        await open_diff(pilot)
        await pilot.press("f")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


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

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
