"""The explorer app driven by Textual's pilot: keys, search, input changes, errors."""

import pytest
from rich.style import Style

from cnnexplorer.app import make_app
from cnnexplorer.app.widgets.details import DetailsPanel
from cnnexplorer.app.widgets.layer_tree import LayerTree
from tests.conftest import settle, wait_for_screen

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
        await wait_for_screen(pilot, DiffScreen)
        assert isinstance(app.screen, DiffScreen)
        diff = app.screen.diff
        assert (diff.left.name, diff.right.name) == ("vgg16", "vgg19_bn")
        await pilot.press("escape")
        assert app.screen is app.explorer


async def test_a_diff_the_right_side_cannot_take_says_which_side(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # A size the user chose applies to both sides (else each takes its own).
        await pilot.press("i", *"32", "enter")
        await settle(pilot)
        await pilot.press("d", *"alexnet-2012-", "enter")
        await settle(pilot)
        assert app.screen is app.explorer
        assert any("right (alexnet-2012-2gpu)" in n.message and "too small" in n.message for n in app._notifications)


# The explorer at every size: bugs found by trying the app as a new user would --------------


async def test_a_burst_of_down_keys_leaves_the_details_on_the_model_in_the_header(shared_cache):
    app = make_app("alexnet", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("tab", "down", "down", "shift+tab")  # a layer of alexnet in the details
        await pilot.press(*["down"] * 6)  # held down over the zoo: models change under the tree
        await settle(pilot)
        screen = app.screen
        details = screen.query_one(DetailsPanel)
        assert screen.analysis.name == screen.model_name
        assert screen.analysis.paths[details.node.path] is details.node  # a node of the model shown
        header = str(screen.query_one("#model-header").render())
        assert header.startswith(screen.analysis.name)


async def test_J_opens_the_jobs_screen_and_q_quits_from_there(shared_cache, tmp_path):
    from cnnexplorer.app.screens.jobs import JobsScreen

    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("J")
        await pilot.pause()
        assert isinstance(app.screen, JobsScreen)
        await pilot.pause(0.4)  # a redraw
        assert "No jobs or runs yet" in str(app.screen.query_one("#job-header").render())
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0  # q quit the app from the jobs screen


async def test_help_lists_the_keys_of_the_screen_in_front(shared_cache, tmp_path):
    from cnnexplorer.app.screens.help import HelpScreen, help_sections
    from cnnexplorer.app.screens.jobs import JobsScreen

    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        sections = help_sections(app.explorer)
        assert sections[0][0] == "Explorer"  # the screen in front first
        explorer_keys = {does: keys for keys, does in sections[0][1]}
        assert explorer_keys["costliest layers by MACs, then params, then memory, then the tree"] == "c"
        assert {"q", "J", "?"} <= {keys for keys, _ in dict(sections)["Everywhere"]}
        await pilot.press("escape", "J", "question_mark")
        title, rows = help_sections(app.screen_stack[-2])[0]
        screen_keys = {b.tooltip or b.description for b in JobsScreen.BINDINGS if b.description}
        assert title == "Jobs" and screen_keys <= {does for _, does in rows}


async def test_googlenet_shares_never_pass_100_percent(shared_cache):
    from cnnexplorer.app.widgets.layer_tree import layer_cells
    from cnnexplorer.render.summary import node_facts

    app = make_app("googlenet", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        analysis = app.screen.analysis
        shares = [layer_cells(node, analysis)["share"][0] for node in analysis.root.walk()]
        assert shares[0] == "100.0%"  # the root: its training-only heads are not in "model"
        assert max(float(s.rstrip("%")) for s in shares if s[0].isdigit()) == 100.0
        root_facts = dict(node_facts(analysis, analysis.root))
        assert "6,624,904 · 100.0% of model" in root_facts["params"]
        aux = dict(node_facts(analysis, analysis.node("aux1")))
        assert "of model" not in aux["params"] and "training only" in aux["note"]


async def test_the_layer_rows_show_name_output_params_and_macs_at_80_columns(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(LayerTree)
        assert tree.size.width >= 76  # the zoo and the details give way
        _, columns = tree.columns
        assert {"output", "params", "macs"} <= {column.key for column in columns}
        row = tree.render_label(tree._items["layer3"], Style(), Style()).plain
        assert "layer3" in row and "1024x14x14" in row and "7.1M" in row and "1.46G" in row


async def test_an_input_one_model_cannot_take_does_not_block_moving_through_the_zoo(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("i", *"3x512x512", "enter")
        await settle(pilot)
        assert app.screen.analysis.input_size == (3, 512, 512)
        app.screen.open_architecture("alexnet-2012")  # as the palette does; then keys from there
        await settle(pilot)
        screen = app.screen
        assert screen.model_name == "alexnet-2012" and screen.analysis is None
        header = str(screen.query_one("#model-header").render())
        assert "classifier.fc1" in header and "9,216 features" in header and "--input" not in header
        await pilot.press("down")  # on to alexnet-2012-2gpu: the cursor is not yanked back
        await settle(pilot)
        assert screen.model_name == "alexnet-2012-2gpu"
        await pilot.press("up", "up")  # alexnet takes 512 (adaptive pooling)
        await settle(pilot)
        assert screen.analysis.name == "alexnet" and screen.analysis.input_size == (3, 512, 512)


async def test_a_new_input_keeps_the_users_place_in_the_tree(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(LayerTree)
        tree.reveal("layer3.4.conv2")
        await pilot.pause()
        await pilot.press("i", *"160", "enter")
        await settle(pilot)
        assert app.screen.analysis.input_size == (3, 160, 160)
        assert tree.highlighted_path == "layer3.4.conv2"
        assert app.screen.query_one(DetailsPanel).node.path == "layer3.4.conv2"


async def test_keys_typed_in_the_same_burst_as_slash_go_into_the_search(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "d", "o", "w", "n")
        await pilot.pause()
        assert app.screen is app.explorer  # `d` did not open the diff picker
        assert app.screen.query_one("#search").value == "down"


async def test_search_marks_every_match_and_steps_back_and_forth(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"downsample.0")
        await pilot.pause()
        tree = app.screen.query_one(LayerTree)
        assert tree.marked == {f"layer{i}.0.downsample.0" for i in (1, 2, 3, 4)}
        await pilot.press("enter", "escape")  # second match, back in the tree
        await pilot.pause()
        assert tree.highlighted_path == "layer2.0.downsample.0"
        await pilot.press("N")
        await pilot.pause()
        assert tree.highlighted_path == "layer1.0.downsample.0"
        await pilot.press("N")  # wraps round to the last
        await pilot.pause()
        assert tree.highlighted_path == "layer4.0.downsample.0"


async def test_costliest_layers_view_ranks_by_macs_then_params(shared_cache):
    app = make_app("vgg16", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("tab", "c")
        tree = app.screen.query_one(LayerTree)
        ranked = [item.data for item in tree.root.children]
        assert [n.macs for n in ranked] == sorted((n.macs for n in ranked), reverse=True)
        assert ranked[0].path == "features.2" or ranked[0].macs == max(n.macs for n in app.screen.analysis.layers)
        await pilot.press("c")
        assert tree.root.children[0].data.path == "classifier.0"  # VGG's 102.8M-parameter FC layer
        await pilot.press("c", "c")
        assert tree.ranking is None and tree.root.children[0].data.path == "features"


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_the_layer_table_fits_the_screen_at_every_size(shared_cache, size):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        table, tree = screen.query_one("#layer-table"), screen.query_one(LayerTree)
        assert table.region.right <= screen.region.right and tree.region.right <= table.region.right
        _, columns = tree.columns
        assert tree.header_spans()[-1][1] <= tree.scrollable_content_region.width
        assert tree.header().plain.rstrip().endswith(columns[-1].title)


async def test_up_and_down_step_through_matches_while_typing_a_search(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"downsample.0", "down", "down")
        await pilot.pause()
        tree = app.screen.query_one(LayerTree)
        assert tree.highlighted_path == "layer3.0.downsample.0"
        await pilot.press("up")
        await pilot.pause()
        assert tree.highlighted_path == "layer2.0.downsample.0"
        assert app.screen.focused is app.screen.query_one("#search")
