"""The explorer app driven by Textual's pilot: keys, search, input changes, errors."""

from cnnexplorer.app import make_app
from cnnexplorer.app.widgets.details import DetailsPanel
from cnnexplorer.app.widgets.layer_tree import LayerTree
from tests.conftest import settle

SIZE = (130, 40)


async def test_first_frame_comes_before_torch_and_then_the_model_appears(shared_cache):
    app = make_app(cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        explorer = app.screen
        await settle(pilot)
        assert explorer.analysis is not None and explorer.analysis.name == "alexnet-2012"
        tree = explorer.query_one(LayerTree)
        assert tree.root.data.path == ""
        assert [child.data.path for child in tree.root.children] == ["features", "classifier"]


async def test_moving_in_the_zoo_switches_architecture(shared_cache):
    app = make_app(cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down")  # alexnet-2012 -> alexnet-2012-2gpu
        await settle(pilot)
        assert app.screen.analysis.name == "alexnet-2012-2gpu"
        await pilot.press("j", "j")  # -> vgg11 (family rows are skipped by the label check)
        await settle(pilot)
        assert app.screen.model_name == app.screen.analysis.name
        assert app.screen.analysis.name in ("vgg11", "vgg11_bn")


async def test_keys_move_expand_and_set_the_depth(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(LayerTree)
        await pilot.press("tab")
        assert tree.has_focus
        await pilot.press("down", "down")
        assert tree.highlighted_path == "bn1"
        await pilot.press("3")
        assert app.screen.depth == 3
        assert tree._items["layer3.0"].is_expanded and not tree._items["layer3.0.downsample"].is_expanded
        await pilot.press("left_square_bracket")
        assert app.screen.depth == 2 and not tree._items["layer3.0"].is_expanded
        tree.move_cursor(tree._items["layer4"])
        await pilot.press("space")
        assert tree._items["layer4"].is_expanded is False  # depth 2 had it open: space folds it
        await pilot.press("space")
        assert tree._items["layer4"].is_expanded


async def test_search_finds_a_layer_and_steps_through_matches(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await pilot.press(*"downsample.0")
        await pilot.pause()
        tree = app.screen.query_one(LayerTree)
        assert tree.highlighted_path == "layer1.0.downsample.0"
        await pilot.press("enter")
        await pilot.pause()
        assert tree.highlighted_path == "layer2.0.downsample.0"
        assert app.screen.query_one(DetailsPanel).node.path == "layer2.0.downsample.0"
        await pilot.press("escape")
        assert tree.has_focus


async def test_changing_the_input_size_updates_the_figures_to_the_engines_values(shared_cache):
    from cnnexplorer.analysis import AnalysisRequest, analyze

    app = make_app("vgg16", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await pilot.click("#input-size")
        size_input = app.screen.query_one("#input-size")
        size_input.value = "3x64x64"
        app.screen.query_one("#input-batch").value = "4"
        await pilot.press("enter")
        await settle(pilot)
        explorer = app.screen
        expected = analyze(AnalysisRequest.of("vgg16", (3, 64, 64), 4))
        assert (explorer.analysis.input_size, explorer.analysis.batch) == ((3, 64, 64), 4)
        assert explorer.analysis.totals.macs == expected.totals.macs
        assert explorer.query_one(LayerTree).root.data.output_shape == (4, 1000)


async def test_an_invalid_input_shows_an_inline_error_and_keeps_the_view(shared_cache):
    app = make_app("resnet18", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("i")
        app.screen.query_one("#input-size").value = "3x22a"
        app.screen.query_one("#input-size").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "malformed input size" in str(app.screen.query_one("#input-error").render())
        await pilot.press("escape")
        assert app.screen.analysis.input_size == (3, 224, 224)


async def test_a_size_the_network_cannot_take_names_the_layer_and_keeps_the_view(shared_cache):
    app = make_app("alexnet-2012", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("i")
        app.screen.query_one("#input-size").value = "3x32x32"
        app.screen.query_one("#input-size").focus()
        await pilot.press("enter")
        await settle(pilot)
        explorer = app.screen
        assert explorer.analysis.input_size == (3, 227, 227)
        assert explorer.request.own_input  # reverted to each model's own size
        header = str(explorer.query_one("#model-header").render())
        assert "features.pool2" in header


async def test_command_palette_opens_an_architecture(shared_cache):
    app = make_app(cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_architecture("densenet121")
        await settle(pilot)
        assert app.screen.analysis.name == "densenet121"
        commands = [command.title for command in app.get_system_commands(app.screen)]
        assert "Open architecture: wrn-28-10" in commands


async def test_rapid_switching_drops_stale_results(shared_cache):
    app = make_app(cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(12):
            await pilot.press("down")
        await settle(pilot)
        explorer = app.screen
        assert explorer.analysis.name == explorer.model_name
        assert explorer.query_one(LayerTree).root.data is explorer.analysis.root


async def test_d_picks_a_second_architecture_and_opens_the_diff(shared_cache):
    from cnnexplorer.app.screens.diff_screen import DiffScreen

    app = make_app("vgg16", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await pilot.pause()
        await pilot.press(*"vgg19", "down", "enter")  # the filter leaves vgg19 then vgg19_bn
        for _ in range(100):
            await pilot.pause(0.05)
            if isinstance(app.screen, DiffScreen):
                break
        assert isinstance(app.screen, DiffScreen)
        diff = app.screen.diff
        assert (diff.left.name, diff.right.name) == ("vgg16", "vgg19_bn")
        await pilot.press("escape")
        assert app.screen is app.explorer


async def test_a_diff_the_right_side_cannot_take_says_which_side(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d", *"alexnet-2012-", "enter")
        await settle(pilot)
        assert app.screen is app.explorer
        assert any("right (alexnet-2012-2gpu)" in n.message and "too small" in n.message for n in app._notifications)
