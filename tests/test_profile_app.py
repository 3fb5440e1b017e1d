"""The explorer's measured view, driven by keys: r chooses a device and profiles the shown model
in a worker (escape cancels it), then the layer table gets measured columns and a roofline
chart follows its cursor. Expected figures are computed here from the raw numbers of a fixed,
recorded profile (tests/data/profile_resnet20_cpu.json: resnet20 measured on a CPU), not
through the Profile's own arithmetic; the snapshots come from the same file."""

import json
import pathlib

import pytest

from cnnexplorer import units
from cnnexplorer.app import make_app
from cnnexplorer.app.screens.profile_form import ProfileForm
from cnnexplorer.app.widgets.layer_tree import LayerTree
from cnnexplorer.app.widgets.profile_header import ProfileHeader
from cnnexplorer.app.widgets.roofline_chart import RooflineChart
from cnnexplorer.profile import from_json, to_json
from tests.conftest import settle, wait_for_screen

RECORDED = pathlib.Path(__file__).parent / "data" / "profile_resnet20_cpu.json"
SIZE = (120, 40)
SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x60": (200, 60)}


def recorded_document() -> dict:
    return json.loads(RECORDED.read_text())


def expected_figures(document: dict, path: str) -> dict:
    """A row's measured figures from the document's raw numbers: the leaf at ``path``, or the
    sum of the leaves under it; the roofline bound is min(peak FLOP/s, intensity x peak B/s)."""
    under = (path + ".") if path else ""  # the model (path ""): every leaf
    leaves = [layer for layer in document["layers"] if layer["path"] == path or layer["path"].startswith(under)]
    forward_ms = sum(layer["forward_ms"] for layer in leaves)
    flops, moved = sum(layer["flops"] for layer in leaves), sum(layer["bytes"] for layer in leaves)
    total_ms = sum(layer["forward_ms"] for layer in document["layers"])  # inference: no backward
    peaks = document["peaks"]
    achieved = flops / (forward_ms / 1e3)
    bound = min(peaks["flops_per_s"], flops / moved * peaks["bytes_per_s"])
    roof = "mem" if flops / moved < peaks["flops_per_s"] / peaks["bytes_per_s"] else "cmp"
    return {
        "forward_ms": forward_ms,
        "share": f"{100 * forward_ms / total_ms:.1f}%",
        "achieved": achieved,
        "bound": f"{100 * achieved / bound:.0f}% {roof}" if flops else roof,
        "point": (flops / moved, achieved) if flops else None,
    }


def row_text(tree: LayerTree, path: str) -> str:
    item = tree._items[path] if path else tree.root
    return tree.render_label(item, tree.rich_style, tree.rich_style).plain


def measured_cells(figures: dict) -> list[str]:
    """The four measured columns' words: time (ms from 1 ms on, else µs), time%, FLOP/s, of roof."""
    forward_ms = figures["forward_ms"]
    time = f"{forward_ms:.3g}ms" if forward_ms >= 1 else f"{forward_ms * 1000:.3g}µs"
    return [time, figures["share"], units.count(figures["achieved"]), *figures["bound"].split()]


async def show_recorded(pilot) -> None:
    pilot.app.explorer.show_profile(from_json(recorded_document()))
    await settle(pilot)


async def test_r_and_the_palette_open_the_device_choice_and_escape_cancels_it(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("tab", "r")
        await wait_for_screen(pilot, ProfileForm)
        form = app.screen
        assert isinstance(form, ProfileForm)
        # the launch form's choices, less a DDP choice of several GPUs: the CPU last
        assert (
            form.devices == [d for d in app.explorer.devices if not d.startswith("gpus:")] and form.devices[-1] == "cpu"
        )
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.explorer
        assert not app.explorer.has_class("-profiling") and app.explorer.profile is None
        assert not any(worker.group == "profile" for worker in app.explorer.workers)
        await pilot.press("ctrl+p", *"profile the shown model", "enter")  # the palette opens it too
        await wait_for_screen(pilot, ProfileForm)
        assert isinstance(app.screen, ProfileForm)
        assert "resnet20 · input 3x32x32 · batch 1" in str(app.screen.query_one("#profile-form").border_title)


def spy_on_progress(screen) -> list[tuple[str, bool, str]]:
    """Each progress report the screen shows: (step, whether the view says a profile runs, header)."""
    seen: list[tuple[str, bool, str]] = []
    show = screen._profile_progress

    def progress(worker, model: str, device: str, step: str) -> None:
        show(worker, model, device, step)
        header = str(screen.query_one(ProfileHeader).render()).replace("\n", " · ")  # lines break between phrases
        seen.append((step, screen.has_class("-profiling"), header))

    screen._profile_progress = progress
    return seen


async def test_a_real_cpu_profile_of_resnet20_runs_in_a_worker_and_fills_the_view(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.explorer
        seen = spy_on_progress(screen)
        await pilot.press("tab", "down", "r")
        await wait_for_screen(pilot, ProfileForm)
        await pilot.press("end", "enter")  # the CPU: the last device listed (CUDA devices first)
        await settle(pilot)
        steps = [step for step, _, _ in seen]
        assert "warm-up: 3 steps" in steps and steps[-1] == "step 10/10"
        for step, profiling, header in seen:  # each step shown in the header while it ran
            assert profiling and f"profiling resnet20 on cpu: {step} · esc cancels" in header
        profile = screen.profile
        assert (profile.model, profile.device, profile.input_size) == ("resnet20", "cpu", (3, 32, 32))
        assert screen.has_class("-profile") and not screen.has_class("-profiling")
        assert {layer.path for layer in profile.layers} == {n.path for n in screen.analysis.layers if n.is_leaf}
        tree = screen.query_one(LayerTree)
        assert row_text(tree, "conv1").split()[-5:] == measured_cells(expected_figures(to_json(profile), "conv1"))
        assert screen.query_one(RooflineChart).marked == "conv1"  # the row under the cursor
        header = str(screen.query_one(ProfileHeader).render())
        overhead = profile.forward_ms_with_hooks / profile.forward_ms - 1  # the whole forward with / without hooks
        assert "measured on cpu" in header and f"{profile.img_per_s:,.0f} img/s" in header
        assert f"hooks {100 * overhead:+.0f}%" in header


async def test_escape_cancels_a_profile_under_way_and_the_ui_answers_meanwhile(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("i", *"3x512x512", "enter")  # steps of a tenth of a second or more: time to cancel
        await settle(pilot)
        screen = app.explorer
        seen = spy_on_progress(screen)
        await pilot.press("tab", "r")
        await wait_for_screen(pilot, ProfileForm)
        await pilot.press("end", "enter")  # the CPU
        for _ in range(600):  # until the timed steps are under way (nine more, two runs each, to go)
            await pilot.pause(0.05)
            if any(step == "step 1/10" for step, _, _ in seen):
                break
        await pilot.press("down")  # the UI answers while the worker measures
        assert screen.query_one(LayerTree).highlighted_path == "conv1"
        await pilot.press("escape")
        assert not screen.has_class("-profiling") and not screen.query_one(ProfileHeader).display
        await settle(pilot)  # the worker stops at its next progress report
        assert screen.profile is None and not screen.has_class("-profile")
        assert seen[-1][0] != "step 10/10"  # it stopped, not only its result dropped
        assert not any(worker.is_running for worker in screen.workers)


async def test_a_profile_that_cannot_run_says_why_in_one_line_and_the_app_goes_on(shared_cache):
    from cnnexplorer.app.screens.profile_form import ProfileChoice

    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.explorer
        screen.measure_profile(screen.analysis, ProfileChoice("cuda:7"))  # a device this machine lacks
        await settle(pilot)
        assert screen.profile is None and not screen.has_class("-profiling") and app.is_running
        messages = [notification.message for notification in app._notifications]
        assert len(messages) == 1 and ("there is no GPU 7" in messages[0] or "no CUDA device" in messages[0])
        assert "\n" not in messages[0] and "Traceback" not in messages[0]


async def test_the_measured_columns_show_the_recorded_figures(shared_cache):
    document = recorded_document()
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        await show_recorded(pilot)
        tree = app.explorer.query_one(LayerTree)
        assert tree.header().plain.split()[-5:] == ["time", "time%", "FLOP/s", "of", "roof"]
        for path in ("conv1", "layer1", "layer3.2.conv2", "fc", ""):  # leaves, blocks and the model: sums of leaves
            if path:
                tree.reveal(path)
            await pilot.pause()
            assert row_text(tree, path).split()[-5:] == measured_cells(expected_figures(document, path))
        bn1 = row_text(tree, "bn1").split()  # no FLOPs counted: no achieved FLOP/s, memory-bound
        assert bn1[-2:] == ["-", "mem"]


async def test_the_charts_mark_follows_the_tables_cursor(shared_cache):
    document = recorded_document()
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("tab")
        await show_recorded(pilot)
        tree, chart = app.explorer.query_one(LayerTree), app.explorer.query_one(RooflineChart)
        assert (
            chart.display
            and chart.marked == ""
            and chart.marked_point == pytest.approx(expected_figures(document, "")["point"])
        )
        for _ in ("conv1", "bn1", "relu", "layer1"):
            await pilot.press("down")
            await pilot.pause()
            path = tree.highlighted_path
            assert chart.marked == path
            expected = expected_figures(document, path)["point"]
            assert chart.marked_point == (None if expected is None else pytest.approx(expected))
        assert chart.marked == "layer1"
        await pilot.press("space", "down")  # into the block: its first leaf
        await pilot.pause()
        assert chart.marked == "layer1.0"
        assert chart.marked_point == pytest.approx(expected_figures(document, "layer1.0")["point"])


async def test_the_chart_takes_the_details_place_below_the_table_at_every_size_and_redraws_on_a_resize(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await show_recorded(pilot)
        screen, chart = app.explorer, app.explorer.query_one(RooflineChart)
        for size in ((80, 24), (200, 60), (120, 40), (80, 24)):
            await pilot.resize_terminal(*size)  # plotext renders the figure again: it must not fail
            await pilot.pause()
            assert app.is_running and chart.display and not screen.query_one("#details").display
            table, region = screen.query_one("#layer-table").region, chart.region
            assert region.y >= table.bottom and region.width == table.width  # below the table, as wide
            assert region.height >= 9


async def test_r_again_hides_the_measured_columns_and_a_new_model_drops_them(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("tab")
        await show_recorded(pilot)
        screen, tree = app.explorer, app.explorer.query_one(LayerTree)
        assert "time%" in tree.header().plain and screen.query_one(RooflineChart).display
        await pilot.press("r")
        await pilot.pause()
        assert screen.profile is None and "time%" not in tree.header().plain
        assert not screen.query_one(RooflineChart).display and screen.query_one("#details").display
        await show_recorded(pilot)
        screen.open_architecture("resnet32")
        await settle(pilot)
        assert screen.profile is None and "time%" not in tree.header().plain


async def test_a_profile_of_another_input_is_not_shown(shared_cache):
    document = recorded_document()
    document["input_size"] = [3, 64, 64]
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.explorer.show_profile(from_json(document))
        await pilot.pause()
        assert app.explorer.profile is None and not app.explorer.has_class("-profile")


async def test_help_lists_the_profile_key(shared_cache):
    from cnnexplorer.app.screens.help import help_sections

    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        keys = {does: keys for keys, does in dict(help_sections(app.explorer))["Explorer"]}
        assert (
            keys["profile: measure each layer's time on a device, with its roofline; again: back to the table"] == "r"
        )
        assert keys["cancel a profile under way"] == "esc"


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_measured_view_of_resnet20_with_layer1_highlighted(snap_compare, shared_cache, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("tab")
        await show_recorded(pilot)
        await pilot.press("down", "down", "down", "down")  # conv1, bn1, relu, layer1
        await settle(pilot)

    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    assert snap_compare(app, terminal_size=size, run_before=run_before)
