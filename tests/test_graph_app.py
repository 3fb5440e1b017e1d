"""The explorer's graph view, driven by keys: g opens the highlighted block's dataflow graph in
the table's place, the arrows follow its edges, and the layer table and the details follow the
selected node. Expected nodes come from torchvision's own module code (Bottleneck.forward,
Inception's four branches), not from the graph builder."""

from dataclasses import replace

import pytest

from cnnexplorer.app import make_app
from cnnexplorer.app.widgets.details import DetailsPanel
from cnnexplorer.app.widgets.graph_view import GraphView
from cnnexplorer.app.widgets.layer_tree import LayerTree
from tests.conftest import settle

SIZE = (130, 40)
SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x60": (200, 60)}

# torchvision's Bottleneck.forward, in the order it runs: the main path, then the shortcut's
# add and the third call of the shared ReLU (each module call is a node; `relu` is called thrice).
BOTTLENECK_PATH = ["conv1", "bn1", "relu", "conv2", "bn2", "relu#2", "conv3", "bn3", "add_()", "relu#3", "output"]
INCEPTION_BRANCHES = {f"inception3a.branch{n}" for n in (1, 2, 3, 4)}  # torchvision's Inception


async def open_graph(pilot, path: str) -> GraphView:
    """Put the layer table's cursor on ``path`` (as the search does) and press g."""
    tree = pilot.app.screen.query_one(LayerTree)
    tree.reveal(path)
    await pilot.pause()
    assert tree.highlighted_path == path
    await pilot.press("g")
    await settle(pilot)
    return pilot.app.screen.query_one(GraphView)


def assert_in_step(screen, path: str) -> None:
    """The table's cursor and the details panel are on the layer at ``path``."""
    assert screen.query_one(LayerTree).highlighted_path == path
    assert screen.query_one(DetailsPanel).node.path == path


async def test_down_follows_a_bottleneck_and_the_table_and_details_follow(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = await open_graph(pilot, "layer1.0")
        assert app.screen.has_class("-graph") and view.has_focus
        assert not app.screen.query_one("#layer-table").display  # the graph is in the table's place
        assert view.graph.block == "layer1.0" and view.selected == "input"
        assert_in_step(app.screen, "layer1.0")
        seen = []
        for _ in BOTTLENECK_PATH:
            await pilot.press("down")
            await pilot.pause()
            seen.append(view.selected.removeprefix("layer1.0."))
            # a module's node: its row; the add and the output: the block's row
            assert_in_step(app.screen, view.graph.node(view.selected).path or "layer1.0")
        assert seen == BOTTLENECK_PATH
        await pilot.press("down")  # the output feeds nothing: the selection stays
        assert view.selected == "output"
        await pilot.press("up", "up")  # back the way it came: relu#3, then the add
        await pilot.pause()
        assert view.selected == "add_()"
        await pilot.press("up")  # the add has two inputs: bn3 (the way it came) and the shortcut
        assert view.selected == "layer1.0.bn3"
        shortcut_side = view.drawing.boxes["layer1.0.downsample"].col > view.drawing.boxes["layer1.0.bn3"].col
        await pilot.press("right" if shortcut_side else "left")  # across to the shortcut that feeds the same add
        assert view.selected == "layer1.0.downsample"
        await pilot.press("up")
        assert view.selected == "input"


async def test_right_and_left_move_across_the_four_branches_of_inception3a(shared_cache):
    app = make_app("googlenet", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = await open_graph(pilot, "inception3a")
        await pilot.press("down")
        assert view.selected in INCEPTION_BRANCHES
        await pilot.press("left", "left", "left")  # from anywhere: to the leftmost branch
        seen = [view.selected]
        for _ in range(3):
            await pilot.press("right")
            await pilot.pause()
            seen.append(view.selected)
            assert_in_step(app.screen, view.selected)
        assert set(seen) == INCEPTION_BRANCHES
        columns = [view.drawing.boxes[node].col for node in seen]
        assert columns == sorted(columns)  # left to right, as drawn
        await pilot.press("right")  # nothing further right
        assert view.selected == seen[-1]
        box = view.drawing.boxes[seen[1]]
        inside = (box.col - round(view.scroll_x) + 2, box.row - round(view.scroll_y) + 2 + 1)  # + 1: the top border
        await pilot.click(GraphView, offset=inside)  # the mouse selects too
        assert view.selected == seen[1]
        assert_in_step(app.screen, seen[1])


async def test_enter_opens_a_branch_and_backspace_comes_back_out_with_it_selected(shared_cache):
    app = make_app("googlenet", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = await open_graph(pilot, "inception3a")
        await pilot.press("down")  # the first branch the forward runs
        branch = view.selected
        assert branch == "inception3a.branch1"
        await pilot.press("enter")
        await settle(pilot)
        assert view.graph.block == branch and view.selected == "input"
        assert {branch + ".conv", branch + ".bn"} <= {node.path for node in view.graph.nodes}  # BasicConv2d's
        assert_in_step(app.screen, branch)
        await pilot.press("backspace")
        await settle(pilot)
        assert view.graph.block == "inception3a" and view.selected == branch
        assert_in_step(app.screen, branch)
        await pilot.press("backspace")  # out again: the whole model, inception3a selected
        await settle(pilot)
        assert view.graph.block == "" and view.selected == "inception3a"
        assert_in_step(app.screen, "inception3a")
        await pilot.press("up", "enter")  # maxpool2, a single layer: nothing inside to open
        await settle(pilot)
        assert view.graph.block == "" and view.selected == "maxpool2"


async def test_backspace_from_a_folded_block_selects_its_run(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = await open_graph(pilot, "layer2.2")
        assert view.graph.block == "layer2.2"
        await pilot.press("backspace")
        await settle(pilot)
        run = view.graph.node(view.selected)  # layer2's blocks 1 to 3 (of 4) are alike: one node
        assert view.graph.block == "layer2" and (run.path, run.last_path, run.repeat) == ("layer2.1", "layer2.3", 3)
        await pilot.press("enter")  # into the run's first block
        await settle(pilot)
        assert view.graph.block == "layer2.1"


async def test_brackets_change_the_depth_and_keep_the_selected_layer(shared_cache):
    app = make_app("googlenet", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = await open_graph(pilot, "inception3a")
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert view.graph.depth == 2
        paths = {node.path for node in view.graph.nodes}
        assert {"inception3a.branch2.0", "inception3a.branch2.1"} <= paths  # the branch's two BasicConv2d
        assert "inception3a.branch2" not in paths
        await pilot.press("left_square_bracket", "left_square_bracket")  # not below 1
        await settle(pilot)
        assert view.graph.depth == 1 and "inception3a.branch2" in {node.path for node in view.graph.nodes}
        await pilot.press("right_square_bracket", "right_square_bracket")  # faster than the drawing: both count
        await settle(pilot)
        assert view.graph.depth == 3 and "inception3a.branch2.0.conv" in {node.path for node in view.graph.nodes}


async def test_escape_and_g_return_to_the_table_on_the_selected_layer(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = await open_graph(pilot, "layer1.0")
        await pilot.press("down", "down", "down", "down")  # conv1, bn1, relu, conv2
        assert view.selected == "layer1.0.conv2"
        await pilot.press("escape")
        await pilot.pause()
        tree = app.screen.query_one(LayerTree)
        assert not app.screen.has_class("-graph") and tree.has_focus
        assert_in_step(app.screen, "layer1.0.conv2")
        await pilot.press("g")  # on a leaf: its parent's graph, the leaf selected
        await settle(pilot)
        assert view.graph.block == "layer1.0" and view.selected == "layer1.0.conv2"
        await pilot.press("down", "g")
        await pilot.pause()
        assert not app.screen.has_class("-graph")
        assert_in_step(app.screen, "layer1.0.bn2")
        await pilot.press("g")
        await settle(pilot)
        await pilot.press("right_square_bracket", "escape")  # closed while a deeper one is drawn: it stays closed
        await settle(pilot)
        assert not app.screen.has_class("-graph") and app.screen.query_one(LayerTree).has_focus


async def test_g_on_the_model_row_and_the_palette_open_the_whole_model(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = await open_graph(pilot, "")
        assert view.graph.block == "" and "layer1" in {node.path for node in view.graph.nodes}
        await pilot.press("escape")
        app.screen.query_one(LayerTree).reveal("layer2")
        await pilot.pause()
        await pilot.press("ctrl+p", *"graph of the highlighted", "enter")
        await settle(pilot)
        assert app.screen is app.explorer and app.screen.has_class("-graph")
        assert view.graph.block == "layer2" and view.has_focus


async def test_from_the_costliest_view_the_graph_opens_the_layers_block_and_the_details_follow(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(LayerTree)
        await pilot.press("tab", "c", "down")  # the costliest layer by MACs: a leaf, listed alone
        leaf = tree.highlighted_path
        assert tree.ranking == "macs" and app.screen.analysis.paths[leaf].is_leaf
        await pilot.press("g")
        await settle(pilot)
        view = app.screen.query_one(GraphView)
        assert view.graph.block == leaf.rpartition(".")[0] and view.selected == leaf
        await pilot.press("down")
        await pilot.pause()
        after = view.graph.node(view.selected).path or view.graph.block
        assert app.screen.query_one(DetailsPanel).node.path == after != leaf
        await pilot.press("escape")
        assert tree.ranking == "macs" and tree.highlighted_path == leaf  # the ranking lists leaves only


async def test_a_model_without_a_dataflow_says_so_in_the_header(shared_cache):
    app = make_app("resnet18", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.analysis = replace(app.screen.analysis, dataflow=None)  # as an entry from before the graph
        await pilot.pause()
        await pilot.press("g")
        await settle(pilot)
        header = str(app.screen.query_one("#model-header").render())
        assert "no graph" in header and "no dataflow was recorded" in header
        assert not app.screen.has_class("-graph") and app.screen.query_one("#layer-table").display


async def test_a_block_that_did_not_run_says_so_in_the_header(shared_cache):
    app = make_app("inception_v3", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_graph(pilot, "AuxLogits.fc")  # a leaf of the training-only head, which eval mode skips
        await settle(pilot)
        header = str(app.screen.query_one("#model-header").render())
        assert "no graph: AuxLogits of inception_v3 did not run" in header
        assert not app.screen.has_class("-graph") and app.screen.query_one(LayerTree).highlighted_path == "AuxLogits.fc"
        await open_graph(pilot, "Mixed_5b")  # the next graph clears the message
        await settle(pilot)
        assert app.screen.has_class("-graph") and "no graph" not in str(app.screen.query_one("#model-header").render())


async def test_the_selection_scrolls_into_sight_at_80x24(shared_cache):
    app = make_app("googlenet", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        view = await open_graph(pilot, "")
        assert view.virtual_size.height > view.scrollable_content_region.height  # it must scroll, not cut
        for _ in view.graph.nodes:
            await pilot.press("down")
            await pilot.pause()
            box = view.drawing.boxes[view.selected]
            window = view.scrollable_content_region.size
            assert view.scroll_y <= box.row and box.row + box.height <= view.scroll_y + window.height
            assert view.scroll_x <= box.col and box.col + box.width <= view.scroll_x + window.width
        assert view.selected == "output" and view.scroll_y > 0


async def test_a_new_input_redraws_the_graph_on_the_same_node(shared_cache):
    app = make_app("resnet50", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = await open_graph(pilot, "layer1.0")
        await pilot.press("down", "down", "down", "down")
        assert view.selected == "layer1.0.conv2" and view.graph.node("layer1.0.conv2").shape == (1, 64, 56, 56)
        await pilot.press("i", *"160", "enter")
        await settle(pilot)
        assert app.screen.analysis.input_size == (3, 160, 160)
        assert app.screen.has_class("-graph") and view.graph.block == "layer1.0" and view.selected == "layer1.0.conv2"
        assert view.graph.node("layer1.0.conv2").shape == (1, 64, 40, 40)  # the stem divides by 4: 160 / 4
        assert_in_step(app.screen, "layer1.0.conv2")


async def test_help_lists_the_graph_keys(shared_cache):
    from cnnexplorer.app.screens.help import help_sections

    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        sections = dict(help_sections(app.explorer))
        keys = {does: keys for keys, does in sections["Explorer"]}
        assert keys["dataflow graph of the highlighted block, or back to the table"] == "g"
        graph_keys = {does: keys for keys, does in sections["Graph view"] if does.startswith("graph:")}
        assert set(graph_keys.values()) == {"↓", "↑", "←", "→", "⏎", "⌫", "[", "]", "esc"}  # as Textual shows them


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_inception3a_graph_with_a_branch_selected(snap_compare, shared_cache, size):
    async def run_before(pilot):
        await settle(pilot)
        await open_graph(pilot, "inception3a")
        await pilot.press("down", "left", "left", "left", "right")  # the second branch from the left
        await settle(pilot)

    app = make_app("googlenet", cache=shared_cache, zoo_stats=False)
    assert snap_compare(app, terminal_size=size, run_before=run_before)
