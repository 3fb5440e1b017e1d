"""The dataflow graph's drawing (cnnexplorer/render/graph.py) and its JSON, DOT and Mermaid.

Oracles: drawings written out by hand for a Bottleneck and an Inception module (their shapes
and MACs derived by hand below); for many more blocks, every edge traced along the drawn
characters from box to box, which must give back exactly the graph's edges; Python's own
parsers of the formats' syntax rules."""

from __future__ import annotations

import json
import re

import pytest

from cnnexplorer.analysis.graph import block_graph
from cnnexplorer.render.graph import (
    draw_graph,
    node_lines,
    page_columns,
    render_text,
    to_dot,
    to_json,
    to_mermaid,
)
from tests.conftest import analysed

# resnet50's layer1.0 at 224x224: a Bottleneck on 64x56x56 (3136 positions) with a downsample.
# conv1 1x1 64->64: 64*64*3136 = 12,845,056 MACs (12.8M); conv2 3x3 64->64: 64*64*9*3136 =
# 115,605,504 (116M); conv3 1x1 64->256 and the downsample's 1x1 64->256: 64*256*3136 =
# 51,380,224 (51.4M) each. Its one ReLU module is called three times: relu, relu#2, relu#3.
BOTTLENECK = """\
         ┌──────────┐
         │  input   │
         │ 64x56x56 │
         └─────┬────┘
       ┌───────┴────────┐
       ▼                ▼
┌────────────┐   ┌────────────┐
│   conv1    │   │ downsample │
│   Conv2d   │   │ Sequential │
│  64x56x56  │   │ 256x56x56  │
│ 12.8M MACs │   │ 51.4M MACs │
└──────┬─────┘   └──────┬─────┘
       ▼                │
┌─────────────┐         │
│     bn1     │         │
│ BatchNorm2d │         │
│  64x56x56   │         │
└──────┬──────┘         │
       ▼                │
 ┌──────────┐           │
 │   relu   │           │
 │   ReLU   │           │
 │ 64x56x56 │           │
 └─────┬────┘           │
       ▼                │
 ┌───────────┐          │
 │   conv2   │          │
 │  Conv2d   │          │
 │ 64x56x56  │          │
 │ 116M MACs │          │
 └─────┬─────┘          │
       ▼                │
┌─────────────┐         │
│     bn2     │         │
│ BatchNorm2d │         │
│  64x56x56   │         │
└──────┬──────┘         │
       ▼                │
 ┌──────────┐           │
 │  relu#2  │           │
 │   ReLU   │           │
 │ 64x56x56 │           │
 └─────┬────┘           │
       ▼                │
┌────────────┐          │
│   conv3    │          │
│   Conv2d   │          │
│ 256x56x56  │          │
│ 51.4M MACs │          │
└──────┬─────┘          │
       ▼                │
┌─────────────┐         │
│     bn3     │         │
│ BatchNorm2d │         │
│  256x56x56  │         │
└──────┬──────┘         │
       └─────┐   ┌──────┘
             ▼   ▼
         ┌───────────┐
         │   add_    │
         │    op     │
         │ 256x56x56 │
         └─────┬─────┘
               ▼
         ┌───────────┐
         │  relu#3   │
         │   ReLU    │
         │ 256x56x56 │
         └─────┬─────┘
               ▼
         ┌───────────┐
         │  output   │
         │ 256x56x56 │
         └───────────┘
"""

# googlenet's inception3a on 192x28x28 (784 positions): branch1 1x1 192->64: 192*64*784 =
# 9,633,792 (9.63M); branch2 1x1 192->96 then 3x3 96->128: 14,450,688 + 86,704,128 =
# 101,154,816 (101M); branch3 1x1 192->16 then 3x3 16->32 (torchvision's 3x3 where the paper
# has 5x5): 2,408,448 + 3,612,672 = 6,021,120 (6.02M); branch4 max-pool then 1x1 192->32:
# 4,816,896 (4.82M); cat: 64+128+32+32 = 256 channels.
INCEPTION = """\
                                            ┌───────────┐
                                            │   input   │
                                            │ 192x28x28 │
                                            └─────┬─────┘
       ┌──────────────────────────┬───────────────┴──────────────────┬─────────────────────────┐
       ▼                          ▼                                  ▼                         ▼
┌─────────────┐   ┌──────────────────────────────┐   ┌──────────────────────────────┐   ┌────────────┐
│   branch1   │   │           branch2            │   │           branch3            │   │  branch4   │
│ BasicConv2d │   │ Sequential · 2 × BasicConv2d │   │ Sequential · 2 × BasicConv2d │   │ Sequential │
│  64x28x28   │   │          128x28x28           │   │           32x28x28           │   │  32x28x28  │
│ 9.63M MACs  │   │          101M MACs           │   │          6.02M MACs          │   │ 4.82M MACs │
└──────┬──────┘   └───────────────┬──────────────┘   └───────────────┬──────────────┘   └──────┬─────┘
       │                          └──────────────┐ ┌─────────────────┘                         │
       └──────────────────────────────────────┐  │ │  ┌────────────────────────────────────────┘
                                              ▼  ▼ ▼  ▼
                                            ┌───────────┐
                                            │    cat    │
                                            │    op     │
                                            │ 256x28x28 │
                                            └─────┬─────┘
                                                  ▼
                                            ┌───────────┐
                                            │  output   │
                                            │ 256x28x28 │
                                            └───────────┘
"""


def graph_of(model: str, block: str, depth: int | None = 1, fold: bool = True):
    return block_graph(analysed(model), block, depth, fold)


def test_a_bottleneck_is_drawn_as_written_by_hand():
    graph = graph_of("resnet50", "layer1.0")
    macs = {node.id: node.macs for node in graph.nodes}
    assert macs["layer1.0.conv1"] == 64 * 64 * 56 * 56
    assert macs["layer1.0.conv2"] == 64 * 64 * 9 * 56 * 56
    assert macs["layer1.0.conv3"] == macs["layer1.0.downsample"] == 64 * 256 * 56 * 56
    drawing = draw_graph(graph)
    assert [line.rstrip() for line in drawing.lines] == BOTTLENECK.splitlines()
    assert len({len(line) for line in drawing.lines}) == 1


def test_an_inception_module_is_drawn_as_written_by_hand():
    graph = graph_of("googlenet", "inception3a")
    macs = {node.id: node.macs for node in graph.nodes}
    assert macs["inception3a.branch1"] == 192 * 64 * 784
    assert macs["inception3a.branch2"] == 192 * 96 * 784 + 96 * 128 * 9 * 784
    assert macs["inception3a.branch3"] == 192 * 16 * 784 + 16 * 32 * 9 * 784
    assert macs["inception3a.branch4"] == 192 * 32 * 784
    drawing = draw_graph(graph)
    assert [line.rstrip() for line in drawing.lines] == INCEPTION.splitlines()
    assert len({len(line) for line in drawing.lines}) == 1


# --- every drawn line, followed from box to box, is one of the graph's edges ----------------

_DIRECTIONS = {
    "│": "UD", "─": "LR", "┌": "DR", "┐": "DL", "└": "UR", "┘": "UL",
    "├": "UDR", "┤": "UDL", "┬": "DLR", "┴": "ULR", "┼": "UDLR",
}  # fmt: skip
_STEP = {"D": (1, 0), "L": (0, -1), "R": (0, 1)}
_OPPOSITE = {"D": "U", "L": "R", "R": "L"}


def traced_edges(drawing) -> list[tuple[str, str]]:
    """The (source, target) of every line drawn: from each ``┬`` on a box's bottom border,
    along the characters (lines flow down or sideways, never up; a ``│`` met sideways is a
    crossing, passed straight over) to each ``▼`` on a box's top border. One entry per arrow."""
    owner = {}
    for node_id, box in drawing.boxes.items():
        for row in range(box.row, box.row + box.height):
            for col in range(box.col, box.col + box.width):
                assert (row, col) not in owner, f"{node_id}'s box overlaps {owner[(row, col)]}'s"
                owner[(row, col)] = node_id
    found = []
    for node_id, box in drawing.boxes.items():
        bottom = box.row + box.height - 1
        for col in range(box.col, box.col + box.width):
            if drawing.lines[bottom][col] == "┬":
                found.extend((node_id, target) for target in _follow(drawing.lines, owner, bottom + 1, col))
    return found


def _follow(lines: list[str], owner: dict, row: int, col: int) -> list[str]:
    targets, todo, seen = [], [(row, col, "D")], set()
    while todo:
        row, col, heading = todo.pop()
        assert (row, col, heading) not in seen, "a line runs in a loop"
        seen.add((row, col, heading))
        char = lines[row][col]
        if char == "▼":
            assert lines[row + 1][col] == "─" and (row + 1, col) in owner, "an arrow that enters no box"
            targets.append(owner[(row + 1, col)])
            continue
        assert (row, col) not in owner, f"a line runs into {owner.get((row, col))}'s box at {row},{col}"
        if heading in "LR" and char == "│":  # a crossing
            todo.append((row, col + _STEP[heading][1], heading))
            continue
        assert char in _DIRECTIONS and _OPPOSITE[heading] in _DIRECTIONS[char], f"a line breaks at {row},{col}"
        for way in _DIRECTIONS[char]:
            if way not in ("U", _OPPOSITE[heading]):
                todo.append((row + _STEP[way][0], col + _STEP[way][1], way))
    return targets


BLOCKS = [
    ("resnet18", "layer1.0", 1),  # BasicBlock, no downsample: the input added back
    ("resnet18", "layer2.0", 1),  # BasicBlock with downsample
    ("resnet50", "layer1.0", None),  # Bottleneck, the downsample opened
    ("resnet50", "", 2),  # the stages opened into their blocks, runs folded
    ("googlenet", "inception3a", None),
    ("inception_v3", "Mixed_5b", 1),
    ("inception_v3", "Mixed_6e", 1),  # factorised 7x1 / 1x7 branches
    ("inception_v3", "Mixed_7c", None),  # branches that split again
    ("densenet121", "features.denseblock1", 1),  # every layer reads every earlier one
    ("densenet121", "features.denseblock4", 1),  # a source's column on another's port: the tracks' order
    ("densenet121", "features.transition1", 1),
    ("vgg16", "", 2),
    ("mobilenet_v3_small", "features.1", None),  # squeeze-excitation: a map times its own gate
    ("efficientnet_b0", "features.2.0", None),
    ("convnext_tiny", "features.1.0", 1),  # a residual add around permutes
    ("vit_b_16", "encoder.layers.encoder_layer_0", 1),  # attention and MLP, each added back
]


@pytest.mark.parametrize(("model", "block", "depth"), BLOCKS)
def test_every_drawn_line_is_an_edge_and_every_edge_is_drawn(model, block, depth):
    graph = graph_of(model, block, depth)
    drawing = draw_graph(graph)
    assert set(drawing.boxes) == {node.id for node in graph.nodes}
    traced = traced_edges(drawing)
    assert sorted(traced) == sorted(graph.edges)  # each edge once: an arrow of its own
    for node in graph.nodes:  # every label whole in its box, on the rows of the box
        box = drawing.boxes[node.id]
        inside = [
            drawing.lines[row][box.col + 1 : box.col + box.width - 1]
            for row in range(box.row + 1, box.row + box.height - 1)
        ]
        assert [text.strip() for text in inside] == node_lines(node, graph.block)
    assert len({len(line) for line in drawing.lines}) == 1


def test_a_skipping_edge_never_crosses_a_box_and_the_layers_follow_the_run():
    graph = graph_of("densenet121", "features.denseblock1")
    drawing = draw_graph(graph)
    traced_edges(drawing)  # asserts that no line enters a box but by its arrow
    rows = [drawing.boxes[node.id].row for node in graph.nodes]
    assert rows == sorted(rows) and len(set(rows)) == len(rows)  # a chain of layers: one per band


def test_the_drawing_is_the_same_every_time():
    graph = graph_of("densenet121", "features.denseblock1")
    assert draw_graph(graph) == draw_graph(graph_of("densenet121", "features.denseblock1"))


def test_labels_name_type_shape_macs_and_training_only():
    graph = graph_of("resnet50", "", 1)
    layer1 = graph.node("layer1")
    assert node_lines(layer1) == ["layer1", "Sequential · 3 × Bottleneck", "256x56x56", "668M MACs"]
    assert node_lines(graph.node("view()")) == ["view", "op", "2048"]
    assert node_lines(graph.node("input")) == ["input", "3x224x224"]
    folded = graph_of("resnet50", "layer1", 1)
    (run,) = [node for node in folded.nodes if node.repeat > 1]
    assert node_lines(run, "layer1")[:2] == ["1–2", "2 × Bottleneck"]
    heads = graph_of("googlenet", "", 1)
    aux = heads.node("aux1")
    assert aux.training_only and node_lines(aux)[-1] == "(training only)"
    assert "(training only)" not in node_lines(heads.node("inception4a"))


# --- pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [32, 45, 60])  # 32: the widest box
def test_pages_keep_every_box_whole_on_some_page(width):
    graph = graph_of("googlenet", "inception3a")
    drawing = draw_graph(graph)
    pages = page_columns(drawing, width)
    assert pages[0][0] == 0 and pages[-1][1] == len(drawing.lines[0])
    assert all(end - start <= width for start, end in pages)
    assert all(b[0] <= a[1] for a, b in zip(pages, pages[1:]))  # no column left out
    for node_id, box in drawing.boxes.items():
        assert any(start <= box.col and box.col + box.width <= end for start, end in pages), node_id
    text = render_text(graph, width)
    assert max(len(line) for line in text.splitlines()) <= width
    printed = re.split(r"page \d+/\d+: columns \d+-\d+ of \d+\n", text)[1:]
    assert len(printed) == len(pages)
    for (start, end), page in zip(pages, printed):
        rows = [line.ljust(end - start) for line in page.splitlines()]
        for box in drawing.boxes.values():  # a box the page's edge cuts: its label left out, not cut
            if box.col < start < box.col + box.width or box.col < end < box.col + box.width:
                for row in range(box.row + 1, box.row + box.height - 1):
                    low, high = max(box.col + 1, start), min(box.col + box.width - 1, end)
                    assert rows[row][low - start : high - start].strip() == ""
    for node in graph.nodes:
        for line in node_lines(node, graph.block):
            assert line in text


def test_a_drawing_that_fits_is_one_page():
    graph = graph_of("googlenet", "inception3a")
    text = render_text(graph, 200)
    assert "page 1/" not in text
    assert text.splitlines()[2:] == [line.rstrip() for line in draw_graph(graph).lines]


# --- formats -----------------------------------------------------------------------------------


def test_json_is_the_documented_document():
    graph = graph_of("resnet50", "layer1", 1)
    document = json.loads(json.dumps(to_json(graph)))
    assert set(document) == {"schema", "model", "block", "depth", "nodes", "edges"}
    assert (document["schema"], document["model"], document["block"], document["depth"]) == (1, "resnet50", "layer1", 1)
    ids = [node["id"] for node in document["nodes"]]
    assert len(set(ids)) == len(ids) and ids[0] == "input" and ids[-1] == "output"
    assert all({"id", "path", "op", "shape", "macs"} <= set(node) for node in document["nodes"])
    assert all(a in ids and b in ids for a, b in document["edges"])
    by_id = {node["id"]: node for node in document["nodes"]}
    assert by_id["input"]["path"] is None and by_id["input"]["shape"] == [1, 64, 56, 56]
    first, run = by_id["layer1.0"], by_id["layer1.1..layer1.2"]
    assert first["op"] == "Bottleneck" and first["container"] and first["path"] == "layer1.0"
    assert (run["repeat"], run["last_path"]) == (2, "layer1.2")
    assert first["macs"] + run["macs"] == analysed("resnet50").paths["layer1"].macs
    ops = json.loads(json.dumps(to_json(graph_of("resnet50", "layer1.0"))))["nodes"]
    (add,) = [node for node in ops if node["op"] == "add_"]
    assert add["path"] is None and add["id"] == "add_()"


def _dot_statements(text: str) -> list[str]:
    """A DOT graph's statements, after checking its frame, quotes and brackets balance."""
    assert text.startswith("digraph ") and text.rstrip().endswith("}")
    body = text[text.index("{") + 1 : text.rstrip().rindex("}")]
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', body)
    assert '"' not in unquoted.replace('""', "")
    assert unquoted.count("[") == unquoted.count("]") and "{" not in unquoted
    return [s.strip() for s in body.split(";\n") if s.strip()]


@pytest.mark.parametrize(("model", "block"), [("googlenet", "inception3a"), ("resnet50", "layer1.0")])
def test_dot_names_every_node_and_edge(model, block):
    graph = graph_of(model, block)
    statements = _dot_statements(to_dot(graph))
    quoted = r'"((?:[^"\\]|\\.)*)"'
    nodes = {
        m.group(1): m.group(2) for s in statements if (m := re.fullmatch(quoted + r" \[label=" + quoted + r"\]", s))
    }
    edges = [m.groups() for s in statements if (m := re.fullmatch(quoted + " -> " + quoted, s))]
    assert set(nodes) == {node.id for node in graph.nodes}
    assert edges == list(graph.edges)
    for node in graph.nodes:
        assert nodes[node.id].split("\\n") == node_lines(node, graph.block)


@pytest.mark.parametrize(("model", "block"), [("googlenet", "inception3a"), ("resnet50", "layer1.0")])
def test_mermaid_names_every_node_and_edge(model, block):
    graph = graph_of(model, block)
    lines = to_mermaid(graph).splitlines()
    assert lines[0] == "flowchart TD"
    nodes = {m.group(1): m.group(2) for line in lines if (m := re.fullmatch(r'  (\w+)\["([^"]*)"\]', line))}
    edges = [m.groups() for line in lines if (m := re.fullmatch(r"  (\w+) --> (\w+)", line))]
    assert len(nodes) + len(edges) + 1 == len(lines)  # nothing else
    assert len(nodes) == len(graph.nodes) and len(edges) == len(graph.edges)
    ids = {node.id: name for node, name in zip(graph.nodes, nodes)}
    assert edges == [(ids[a], ids[b]) for a, b in graph.edges]
    for node, label in zip(graph.nodes, nodes.values()):
        assert label.split("<br/>") == node_lines(node, graph.block)
