"""The dataflow the engine records (issue 22), against an independent oracle: torch.fx.

For each block, ``block_graph(..., depth=None, fold=False)`` (every container opened: nodes
are atomic module calls and the ops between them) must equal ``torch.fx.symbolic_trace`` of
the same block module: its ``call_module`` nodes as module paths, and its ``call_function`` /
``call_method`` nodes that compute a tensor from one the block made, as the aten op they run
(through the hand-written table below); the same edges, and the output shapes that fx's
ShapeProp gives. Also: a module called three times, a real CPU forward against the meta pass,
the disk cache (a read-back entry, and hostile ones), and training-only heads.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from cnnexplorer import disk_cache
from cnnexplorer.analysis import AnalysisRequest, analyze, store
from cnnexplorer.analysis.dataflow import Span, Step
from cnnexplorer.analysis.engine import analyze_module, build_model
from cnnexplorer.analysis.graph import INPUT_ID, OUTPUT_ID, block_graph
from cnnexplorer.cli import main
from cnnexplorer.errors import UsageError
from cnnexplorer.zoo import get
from tests.conftest import analysed

# The aten op each tensor-computing fx target runs on the block's tensors. A module's own ops
# are inside its node; these are the ops a block's forward runs between its modules.
ATEN_NAME = {
    operator.add: "add",
    operator.mul: "mul",
    torch.add: "add",
    torch.mul: "mul",
    torch.cat: "cat",
    torch.sigmoid: "sigmoid",
    torch.flatten: "view",  # flatten is a view where the layout allows (always, after pooling)
    "flatten": "view",
    "permute": "permute",
    "transpose": "transpose",
    torch.transpose: "transpose",
    "view": "view",
    "chunk": "split",
    "contiguous": "clone",  # of a tensor that is not contiguous: a copy
    "reshape": "view",  # of a contiguous tensor
    torch.chunk: "split",  # chunk is split into equal parts, one op returning them all
    operator.getitem: "select",  # ``x[:, 0]``: the full slice is no op, the index one
    "mean": "mean",
    F.avg_pool2d: "avg_pool2d",
    F.max_pool2d: "max_pool2d_with_indices",  # F.max_pool2d runs the op that also returns indices
    F.dropout: "native_dropout",  # in training mode, as the engine's pass runs
}


# A view to the same shape (``torch.flatten`` of a (N, C) tensor) renames its input: no node.
SAME_SHAPE_VIEWS = {torch.flatten, "flatten", "view", "reshape", torch.reshape}

# fx's proxies have no ``__iadd__``: Python runs ``out += identity`` as ``out = out + identity``
# on them, and fx records operator.add. On tensors it is the in-place op; the source line tells.
IN_PLACE = {operator.add: ("+=", "add_"), operator.mul: ("*=", "mul_")}


def _aten_name(node: fx.Node) -> str:
    if node.target in (F.relu, torch.relu):
        return "relu_" if node.kwargs.get("inplace") else "relu"
    if node.target in IN_PLACE and IN_PLACE[node.target][0] in _source_line(node):
        return IN_PLACE[node.target][1]
    if node.target is F.adaptive_avg_pool2d:  # to 1x1, torch runs it as a mean over the map
        size = node.args[1] if len(node.args) > 1 else node.kwargs["output_size"]
        return "mean" if size in (1, (1, 1)) else "_adaptive_avg_pool2d"
    return ATEN_NAME[node.target]


def _source_line(node: fx.Node) -> str:
    """The line of the block's forward that made ``node`` (the last frame outside torch.fx)."""
    lines = (node.stack_trace or "").splitlines()
    frames = [(lines[i], lines[i + 1]) for i in range(len(lines) - 1) if lines[i].lstrip().startswith("File ")]
    outside = [code for place, code in frames if "/torch/fx/" not in place]
    return outside[-1].strip() if outside else ""


class _Tracer(fx.Tracer):
    """fx's leaf rule (torch.nn's own modules are whole), plus the recorder's: a module without
    children (torchvision's StochasticDepth) is one call, its forward's ops its own; and the
    graph's ``depth``: a module that many levels below the block is whole. It keeps each node's
    source line."""

    record_stack_traces = True

    def __init__(self, depth: int | None = None) -> None:
        super().__init__()
        self.depth = depth

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        deep = self.depth is not None and len(qualified_name.split(".")) >= self.depth
        return super().is_leaf_module(module, qualified_name) or not module._modules or deep


def _block_input(model: nn.Module, block: nn.Module, input_size: tuple[int, ...]) -> tuple:
    """What ``block`` receives in a meta forward of the whole model (in inference mode: a
    training-only head may not run at batch 1)."""
    seen: list[tuple] = []

    class Reached(Exception):
        pass

    def catch(module: nn.Module, args: tuple) -> None:
        seen.append(args)
        raise Reached

    handle = block.register_forward_pre_hook(catch)
    try:
        model.eval()
        model(torch.empty(1, *input_size, device="meta"))
    except Reached:
        pass
    finally:
        handle.remove()
        model.train()
    return seen[0]


def _value_has_tensor(value: object) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, (list, tuple)):
        return any(_value_has_tensor(item) for item in value)
    return False


def fx_graph(
    module: nn.Module, prefix: str, inputs: tuple, depth: int | None = None
) -> tuple[list[tuple[str, str, tuple]], set]:
    """The fx oracle: nodes as (kind, name, output shape) in execution order, and edges between
    their indices (-1: the block's input, "output": its output)."""
    graph = _Tracer(depth).trace(module)
    traced = fx.GraphModule(module, graph)
    values: dict[fx.Node, object] = {}

    class Recording(ShapeProp):
        def run_node(self, n: fx.Node):
            result = super().run_node(n)
            values[n] = result
            return result

    Recording(traced).propagate(*inputs)
    nodes: list[tuple[str, str, tuple]] = []
    found: dict[fx.Node, set] = {}  # fx node -> the oracle nodes its value comes from
    edges: set[tuple] = set()
    for node in traced.graph.nodes:
        sources = set().union(*(found.get(arg, set()) for arg in node.all_input_nodes))
        value = values.get(node)
        if node.op == "placeholder":
            found[node] = {"input"} if _value_has_tensor(value) else set()
        elif node.op == "output":
            edges |= {(s, "output") for s in sources}
        elif node.op == "call_module":
            name = f"{prefix}.{node.target}" if prefix else node.target
            nodes.append(("module", name, _first_shape(value)))
            edges |= {(s, len(nodes) - 1) for s in sources}
            found[node] = {len(nodes) - 1}
        elif node.op in ("call_function", "call_method") and sources and _value_has_tensor(value):
            if isinstance(node.target, type):  # a named tuple of outputs (GoogLeNetOutputs) built
                found[node] = sources
                continue
            if node.target is operator.getitem and not isinstance(values[node.args[0]], torch.Tensor):
                found[node] = sources  # one tensor of a tuple (attention's output, a chunk)
                continue
            if node.target in SAME_SHAPE_VIEWS and value.shape == values[node.args[0]].shape:
                found[node] = sources  # the same tensor under another name (dataflow.py's rule)
                continue
            nodes.append(("op", _aten_name(node), _first_shape(value)))
            edges |= {(s, len(nodes) - 1) for s in sources}
            found[node] = {len(nodes) - 1}
        elif _value_has_tensor(value):
            found[node] = sources  # a list or tuple of the block's tensors, passed on
    return nodes, edges


def _first_shape(value: object) -> tuple:
    while isinstance(value, (list, tuple)):
        value = value[0]
    return tuple(value.shape)


def our_graph(analysis, block: str, depth: int | None = None) -> tuple[list[tuple[str, str, tuple]], set]:
    """``block_graph`` unfolded (every container opened, by default), in the oracle's terms."""
    graph = block_graph(analysis, block, depth=depth, fold=False)
    index: dict[str, int | str] = {INPUT_ID: "input", OUTPUT_ID: "output"}
    nodes = []
    for node in graph.nodes:
        if node.id in index:
            continue
        kind, name = ("module", node.path) if node.path is not None else ("op", node.op)
        nodes.append((kind, name, tuple(node.shape)))
        index[node.id] = len(nodes) - 1
    return nodes, {(index[a], index[b]) for a, b in graph.edges}


def _named_edges(nodes: list, edges: set) -> Counter:
    """Edges with each end named (kind, name, its occurrence among nodes of that name)."""
    seen: Counter = Counter()
    names: dict = {"input": "input", "output": "output"}
    for i, (kind, name, _) in enumerate(nodes):
        seen[(kind, name)] += 1
        names[i] = (kind, name, seen[(kind, name)])
    return Counter((names[a], names[b]) for a, b in edges)


INCEPTION_V3 = (3, 299, 299)
BLOCKS = [
    ("googlenet", None, "inception3a"),
    ("inception_v3", INCEPTION_V3, "Mixed_5b"),
    ("inception_v3", INCEPTION_V3, "Mixed_6b"),
    ("inception_v3", INCEPTION_V3, "Mixed_7b"),
    ("resnet18", None, "layer1.0"),
    ("resnet18", None, "layer2.0"),
    ("resnet50", None, "layer1.0"),
    ("resnet50", None, "layer1.1"),
    ("densenet121", None, "features.denseblock1"),
    ("densenet121", None, "features.transition1"),
    ("vgg16", None, "features"),
    ("alexnet", None, "features"),
    ("alexnet", None, "classifier"),
    ("mobilenet_v3_large", None, "features.4.block.2"),
    ("mobilenet_v3_large", None, "features.4"),
    ("efficientnet_b0", None, "features.2.0.block.2"),
    ("efficientnet_b0", None, "features.2.0"),
    ("convnext_tiny", None, "features.1.0"),
    ("vit_b_16", None, "encoder.layers.encoder_layer_0"),
    ("shufflenet_v2_x0_5", None, "stage2.1"),  # chunk, channel shuffle (view, transpose, copy, view), cat
    # Whole models: the stems, heads and the ops between blocks too.
    ("googlenet", None, ""),  # with its training-only heads, which the pass runs
    ("densenet121", None, ""),
    ("vit_b_16", None, ""),  # the class token concatenated, the position embedding added
]


@pytest.fixture(scope="module")
def meta_models() -> dict:
    """One meta-device model per architecture for the oracle (training mode, as the pass)."""
    return {}


def _oracle(meta_models: dict, model: str, input_size, block: str, depth: int | None = None):
    arch = get(model)
    if model not in meta_models:
        meta_models[model] = build_model(arch, "meta")
    built = meta_models[model]
    module = built.get_submodule(block)
    size = input_size or arch.input_size
    inputs = _block_input(built, module, size) if block else (torch.empty(1, *size, device="meta"),)
    return fx_graph(module, block, inputs, depth)


def assert_same_graph(ours: tuple, oracle: tuple) -> None:
    (our_nodes, our_edges), (fx_nodes, fx_edges) = ours, oracle
    assert Counter(n[:2] for n in our_nodes) == Counter(n[:2] for n in fx_nodes)
    assert _named_edges(our_nodes, our_edges) == _named_edges(fx_nodes, fx_edges)
    assert Counter(our_nodes) == Counter(fx_nodes)  # and each node's output shape


@pytest.mark.parametrize(("model", "input_size", "block"), BLOCKS, ids=[f"{m}:{b}" for m, _, b in BLOCKS])
def test_a_blocks_graph_is_what_torch_fx_traces(model, input_size, block, meta_models):
    analysis = analysed(model, input_size)
    assert_same_graph(our_graph(analysis, block), _oracle(meta_models, model, input_size, block))


AT_DEPTH = [
    ("resnet50", None, "", 1),  # the stages whole
    ("resnet50", None, "", 2),  # the stages opened into their Bottlenecks
    ("googlenet", None, "", 1),  # the Inception modules and the aux heads whole
    ("inception_v3", INCEPTION_V3, "Mixed_6b", 1),  # each BasicConv2d whole: no relu_ between
    ("densenet121", None, "features", 2),  # the dense layers whole, their concatenations shown
    ("vit_b_16", None, "encoder", 2),  # the encoder layers whole
]


@pytest.mark.parametrize(
    ("model", "input_size", "block", "depth"), AT_DEPTH, ids=[f"{m}:{b}:{d}" for m, _, b, d in AT_DEPTH]
)
def test_a_blocks_graph_at_a_depth_is_what_torch_fx_traces_to_that_depth(model, input_size, block, depth, meta_models):
    analysis = analysed(model, input_size)
    expected = _oracle(meta_models, model, input_size, block, depth)
    assert_same_graph(our_graph(analysis, block, depth), expected)


class TwoBranches(nn.Module):
    """A user's block: two branches, added and concatenated, then gated by one of them."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.wide = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
        self.narrow = nn.Conv2d(channels, channels, 1)
        self.merge = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wide, narrow = self.wide(x), self.narrow(x)
        joined = torch.cat([wide + narrow, narrow], dim=1)
        return self.merge(joined) * torch.sigmoid(wide)


class UserNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.block = TwoBranches(8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.block(self.stem(x)).mean((2, 3))
        return self.fc(torch.flatten(pooled, 1))  # (N, 8) already: a rename, no node


class Tokens(nn.Module):
    """A user's model that splits, permutes, copies, reshapes and indexes between its modules."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 1)
        self.first_half = nn.Conv2d(4, 4, 1)
        self.mix = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = torch.chunk(self.stem(x), 2, dim=1)
        joined = self.first_half(first) + second
        tokens = joined.permute(0, 2, 3, 1).contiguous()
        tokens = tokens.reshape(tokens.shape[0], -1, 8)
        return self.mix(tokens).transpose(1, 2)[:, 0]


class Encoder(nn.Module):
    """A user's transformer of torch.nn's own layers: nn.TransformerEncoder is one node."""

    def __init__(self) -> None:
        super().__init__()
        self.patches = nn.Conv2d(3, 16, 4, stride=4)
        layer = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.patches(x).flatten(2).transpose(1, 2))


class ShortcutFirst(nn.Module):
    """A user's block that names its shortcut (an nn.Identity, returning its input itself)
    before the main path reads the same input."""

    def __init__(self) -> None:
        super().__init__()
        self.shortcut = nn.Identity()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = self.shortcut(x)
        return self.relu(self.conv(x) + identity)


def _flattened(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
    return output.flatten(1)


def _measured(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
    module.last_mean = output.mean()


class Hooked(nn.Module):
    """A user's model whose layers have forward hooks of their own: one replaces its layer's
    output (flattened), one only reads it. A hook's ops are its layer's."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4 * 7 * 7, 10)
        self.conv.register_forward_hook(_flattened)
        self.relu.register_forward_hook(_measured)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.relu(self.conv(x)))


USER_MODELS = [
    (UserNet, "block"), (UserNet, ""), (Tokens, ""), (Encoder, ""), (ShortcutFirst, ""), (Hooked, ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "block"), USER_MODELS, ids=["UserNet:block", "UserNet", "Tokens", "Encoder", "ShortcutFirst", "Hooked"]
)
def test_a_user_models_graph_is_what_torch_fx_traces(make, block):
    analysis = analyze_module(make(), (3, 16, 16))
    model = make().to("meta")
    module = model.get_submodule(block)
    inputs = _block_input(model, module, (3, 16, 16)) if block else (torch.empty(1, 3, 16, 16, device="meta"),)
    assert_same_graph(our_graph(analysis, block), fx_graph(module, block, inputs))


class Assembled(nn.Module):
    """A user's model that writes its branches into slices of one tensor, and runs an in-place
    ReLU on a slice of it: torch.fx sees no such writes (``setitem`` returns nothing), the
    values flow through them."""

    def __init__(self) -> None:
        super().__init__()
        self.left, self.right = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 1)
        self.relu = nn.ReLU(inplace=True)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x.new_zeros(x.shape[0], 8, *x.shape[2:])
        out[:, :4] = self.left(x)
        out[:, 4:] = self.right(x)
        self.relu(out[:, 2:6])
        return self.head(out)


def test_writes_into_a_slice_feed_what_reads_the_whole():
    graph = block_graph(analyze_module(Assembled(), (3, 8, 8)), "", depth=None)
    assert set(graph.edges) == {
        ("input", "left"), ("left", "copy_()"),  # out[:, :4] = left(x)
        ("input", "right"), ("copy_()", "slice()"), ("slice()", "copy_()#2"), ("right", "copy_()#2"),  # out[:, 4:]
        ("copy_()#2", "slice()#2"), ("slice()#2", "relu"),  # relu(out[:, 2:6]) in place
        ("relu", "head"), ("head", "output"),  # head reads out, as the ReLU left it
    }  # fmt: skip


# One module called three times; a real forward; the cache; training-only heads ------------


def test_a_module_called_three_times_is_three_nodes():
    """resnet50's Bottleneck calls its one ``relu`` after bn1, after bn2 and after the add."""
    graph = block_graph(analysed("resnet50"), "layer1.1", depth=None, fold=False)
    relu = "layer1.1.relu"
    assert [n.id for n in graph.nodes if n.path == relu] == [relu, f"{relu}#2", f"{relu}#3"]
    edges = set(graph.edges)
    assert {("layer1.1.bn1", relu), (relu, "layer1.1.conv2")} <= edges
    assert {("layer1.1.bn2", f"{relu}#2"), (f"{relu}#2", "layer1.1.conv3")} <= edges
    assert {("layer1.1.bn3", "add_()"), ("input", "add_()"), ("add_()", f"{relu}#3"), (f"{relu}#3", "output")} <= edges
    assert len([e for e in edges if relu in e[0] or relu in e[1]]) == 6


@pytest.mark.parametrize("model", ["resnet18", "resnet20", "mobilenet_v3_large"])
def test_a_real_cpu_forward_records_the_meta_passes_dataflow(model):
    """resnet20's shortcuts are nn.Identity; mobilenet_v3's hardswish runs in place."""
    request = AnalysisRequest.of(model)
    assert analyze(request, device="cpu").dataflow == analysed(model).dataflow


SMALL = "resnet20"  # one of our own models (CIFAR), quick to analyse


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """An empty cache folder of this test's own, the cache on (``--no-cache`` turns it off)."""
    monkeypatch.setenv(disk_cache.CACHE_DIR_VARIABLE, str(tmp_path / "cache"))
    monkeypatch.setattr(disk_cache, "_enabled", True)
    return tmp_path / "cache"


def test_an_analysis_read_back_from_the_cache_has_the_same_dataflow(private_cache):
    fresh = analysed(SMALL)
    assert store.save(fresh)
    loaded = store.load(fresh.request)
    assert loaded is not None and loaded.dataflow is not fresh.dataflow
    assert loaded.dataflow == fresh.dataflow
    assert block_graph(loaded, "layer1.0", depth=None) == block_graph(fresh, "layer1.0", depth=None)


STEP, SPAN = Step._fields.index, Span._fields.index


def _source_forward(flow: list) -> None:
    steps = flow[0]
    steps[3][STEP("sources")] = [5]  # step 3 reads step 5, which reads step 3's descendants: a cycle


def _source_itself(flow: list) -> None:
    flow[0][4][STEP("sources")] = [4]


def _node_past_the_tree(flow: list) -> None:
    flow[0][0][STEP("node")] = 10_000


def _span_node_past_the_tree(flow: list) -> None:
    flow[1][1][SPAN("node")] = 10_000


def _parent_forward(flow: list) -> None:
    flow[1][1][SPAN("parent")] = 2  # span 1 inside span 2, which is inside span 1


def _result_past_the_steps(flow: list) -> None:
    flow[2] = [len(flow[0])]


def _source_below_the_input(flow: list) -> None:
    flow[0][1][STEP("sources")] = [-2]


HOSTILE = [
    _source_forward, _source_itself, _node_past_the_tree, _span_node_past_the_tree, _parent_forward,
    _result_past_the_steps, _source_below_the_input,
]  # fmt: skip


COMMANDS = [
    ("summary", SMALL, "--format", "json"),
    ("graph", SMALL, "--block", "layer1.0", "--depth", "all", "--format", "json"),
    ("graph", SMALL, "--width", "80"),
]


@pytest.mark.parametrize("edit", HOSTILE, ids=[edit.__name__.strip("_") for edit in HOSTILE])
def test_a_cache_entry_with_an_edited_dataflow_is_a_miss(edit, private_cache, capsys):
    """The edit comes with a digest recomputed (as the cache writes one): only the dataflow's
    own check can refuse it. Each command then shows what ``--no-cache`` shows, and the entry
    is written again."""
    fresh = analysed(SMALL)
    key = store.entry_key(fresh.request)
    for command in COMMANDS:
        assert main([*command, "--no-cache"]) == 0
        expected = capsys.readouterr().out
        disk_cache.set_enabled(True)
        assert store.save(fresh)
        document = json.loads(disk_cache.entry_path(store.KIND, key).read_bytes())["document"]
        edit(document["analysis"]["dataflow"])
        assert disk_cache.save(store.KIND, key, document)  # a matching digest
        assert disk_cache.load(store.KIND, key) == document
        assert store.load(fresh.request) is None

        assert main(list(command)) == 0
        assert capsys.readouterr().out == expected, command
        loaded = store.load(fresh.request)  # written again, whole
        assert loaded is not None and loaded.dataflow == fresh.dataflow


def test_training_only_heads_are_marked_in_the_whole_models_graph():
    graph = block_graph(analysed("googlenet"), "", depth=1)
    marked = {node.id for node in graph.nodes if node.training_only}
    assert marked == {"aux1", "aux2"}
    assert {("inception4a", "aux1"), ("aux1", "output"), ("inception4d", "aux2"), ("aux2", "output")} <= set(
        graph.edges
    )
    opened = block_graph(analysed("googlenet"), "", depth=None, fold=False)
    inside = [node for node in opened.nodes if (node.path or "").startswith(("aux1.", "aux2."))]
    assert inside and all(node.training_only for node in inside)
    assert not any(node.training_only for node in opened.nodes if node.path and not node.path.startswith("aux"))


def test_a_module_inside_an_atomic_ones_call_has_no_graph_of_its_own():
    """nn.TransformerEncoder is one node; its layers ran, inside its call: a one-line error
    naming it, not a crash."""
    analysis = analyze_module(Encoder(), (3, 16, 16))
    assert analysis.paths["encoder.layers.0.linear1"].executed
    for block in ("encoder.layers.0", "encoder.layers.0.linear1"):
        with pytest.raises(UsageError, match=r"runs inside encoder \(TransformerEncoder\)"):
            block_graph(analysis, block)
    assert [n.op for n in block_graph(analysis, "encoder").nodes] == ["input", "TransformerEncoder", "output"]


def test_a_dataflow_missing_a_blocks_calls_is_an_error_not_a_crash():
    """A dataflow that passes Dataflow.valid but lacks a block's container calls (spans)."""
    analysis = analysed(SMALL)
    flow = analysis.dataflow
    emptied = dataclasses.replace(
        analysis, dataflow=flow._replace(spans=[], steps=[s._replace(span=-1) for s in flow.steps])
    )
    assert emptied.dataflow.valid(len(list(analysis.root.walk())))
    with pytest.raises(UsageError, match="no dataflow was recorded for layer1.0 .*--no-cache"):
        block_graph(emptied, "layer1.0")
