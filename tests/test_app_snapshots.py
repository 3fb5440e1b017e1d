"""Snapshots of the explorer (SVG files under snapshots/test_app_snapshots/).

Deterministic: every worker is awaited before the screenshot; no clocks or timings are shown."""

import pytest

from cnnexplorer.app import make_app
from tests.conftest import settle

SIZE = (120, 40)
SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x60": (200, 60)}


def app_for(shared_cache, model=None):
    return make_app(model, cache=shared_cache, zoo_stats=True)


def test_start_screen(snap_compare, shared_cache):
    assert snap_compare(app_for(shared_cache), terminal_size=SIZE, run_before=settle)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_resnet50_with_a_deep_node_highlighted(snap_compare, shared_cache, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("tab", "slash", *"layer3.4.conv2", "escape")
        await settle(pilot)

    assert snap_compare(app_for(shared_cache, "resnet50"), terminal_size=size, run_before=run_before)


def test_alexnet_2012_details_of_conv1(snap_compare, shared_cache):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("tab", "2")
        pilot.app.screen.query_one("#layers").reveal("features.conv1")
        await pilot.pause()

    assert snap_compare(app_for(shared_cache, "alexnet-2012"), terminal_size=SIZE, run_before=run_before)


def test_search_active(snap_compare, shared_cache):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("slash", *"downsample", "enter")
        await pilot.pause()

    assert snap_compare(app_for(shared_cache, "resnet50"), terminal_size=SIZE, run_before=run_before)


def test_input_dialog_with_an_invalid_value(snap_compare, shared_cache):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("i")
        await pilot.pause()
        pilot.app.screen.query_one("#input-size").value = "3x0x224"
        pilot.app.screen.query_one("#input-size").focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app_for(shared_cache, "vgg16"), terminal_size=SIZE, run_before=run_before)


def test_stage_plots_of_a_model(snap_compare, shared_cache):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("p")
        await pilot.pause()

    assert snap_compare(app_for(shared_cache, "vgg16"), terminal_size=SIZE, run_before=run_before)


def test_zoo_chart(snap_compare, shared_cache):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("z")
        await pilot.pause()

    assert snap_compare(app_for(shared_cache), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare, shared_cache):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app_for(shared_cache), terminal_size=SIZE, run_before=run_before)
