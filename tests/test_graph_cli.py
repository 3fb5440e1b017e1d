"""``cnnexplorer graph`` as a user runs it: each command line in a forked child of one
interpreter that imported torch once (tests/fork_cli.py), its output to a file as to a pipe."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from cnnexplorer.analysis.graph import block_graph
from cnnexplorer.render.graph import draw_graph, node_lines, to_json
from tests.conftest import analysed, assert_usage_error
from tests.kill_at_write import ForkServer


def graph_cli(server: ForkServer, *args: str, columns: int = 80, timeout: float = 180) -> subprocess.CompletedProcess:
    """``cnnexplorer graph ARGS`` in a forked child, in a terminal ``columns`` wide as far as
    COLUMNS tells; a hang fails the test."""
    return server.run(["graph", *args], env={"COLUMNS": str(columns)}, timeout=timeout)


def test_text_is_the_drawing_plain_under_its_caption(fork_server):
    result = graph_cli(fork_server, "googlenet", "--block", "inception3a", "--width", "200")
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "googlenet inception3a, depth 1: 7 nodes, 9 edges",
        "MACs: multiply-accumulates (FLOPs = 2 x MACs)",
    ]
    drawing = draw_graph(block_graph(analysed("googlenet"), "inception3a"))
    assert lines[2:] == [line.rstrip() for line in drawing.lines]
    assert "\x1b" not in result.stdout  # to a pipe: no ANSI codes


def test_narrow_width_pages_the_drawing_without_cutting_a_label(fork_server):
    graph = block_graph(analysed("googlenet"), "inception3a")
    result = graph_cli(fork_server, "googlenet", "--block", "inception3a", "--width", "40")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 40
    headers = [line for line in lines if re.fullmatch(r"page \d+/\d+: columns \d+-\d+ of \d+", line)]
    assert len(headers) >= 3 and headers[0].startswith("page 1/")
    for node in graph.nodes:  # every box's lines whole, one above the other, on some page
        box_lines = node_lines(node, graph.block)
        starts = [i for i, line in enumerate(lines) if box_lines[0] in line]
        assert any(all(text in lines[i + k] for k, text in enumerate(box_lines)) for i in starts), node.id


def test_the_default_width_is_the_terminals(fork_server):
    wide = graph_cli(fork_server, "googlenet", "--block", "inception3a", columns=200)
    narrow = graph_cli(fork_server, "googlenet", "--block", "inception3a", columns=60)
    assert "page 1/" not in wide.stdout and "page 1/" in narrow.stdout
    assert max(map(len, narrow.stdout.splitlines())) <= 60


def test_depth_all_opens_every_container_and_no_fold_draws_each_block(fork_server):
    opened = json.loads(
        graph_cli(fork_server, "resnet50", "--block", "layer1.0", "--depth", "all", "--format", "json").stdout
    )
    assert "layer1.0.downsample.0" in {node["id"] for node in opened["nodes"]} and opened["depth"] is None
    folded = json.loads(graph_cli(fork_server, "resnet50", "--block", "layer1", "--format", "json").stdout)
    args = ("resnet50", "--block", "layer1", "--no-fold", "--format", "json")
    unfolded = json.loads(graph_cli(fork_server, *args).stdout)
    assert [n["id"] for n in folded["nodes"]] == ["input", "layer1.0", "layer1.1..layer1.2", "output"]
    assert [n["id"] for n in unfolded["nodes"]] == ["input", "layer1.0", "layer1.1", "layer1.2", "output"]


def test_json_dot_and_mermaid(fork_server):
    args = ("resnet50", "--block", "layer1.0", "--input", "3x224x224", "--batch", "2")
    document = json.loads(graph_cli(fork_server, *args, "--format", "json").stdout)
    assert document == json.loads(json.dumps(to_json(block_graph(analysed("resnet50", (3, 224, 224), 2), "layer1.0"))))
    assert document["nodes"][0]["shape"] == [2, 64, 56, 56]
    dot = graph_cli(fork_server, *args, "--format", "dot")
    assert dot.returncode == 0 and dot.stdout.startswith('digraph "resnet50:layer1.0" {')
    assert '"add_()" -> "layer1.0.relu#3";' in dot.stdout
    mermaid = graph_cli(fork_server, *args, "--format", "mermaid")
    assert mermaid.stdout.startswith("flowchart TD\n") and "n_add___ --> n_layer1_0_relu_3" in mermaid.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("resnet18", "--block", "layer9"), "no module 'layer9'"),
        (("resnet18", "--depth", "0"), "--depth 0"),
        (("resnet18", "--depth", "-2"), "--depth -2"),
        (("resnet18", "--depth", "deep"), "--depth deep"),
        (("resnet18", "--width", "0"), "--width 0"),
        (("resnet51",), "resnet50"),
        (("resnet18", "--format", "svg"), "invalid choice"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code_2(fork_server, args, needle):
    assert_usage_error(graph_cli(fork_server, *args), needle)
