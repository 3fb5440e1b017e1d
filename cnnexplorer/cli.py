"""The ``cnnexplorer`` command line: argparse subcommands over the Textual-free core.

Heavy imports (torch, torchvision, textual) happen inside the handlers, so ``--help``
and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cnnexplorer import __version__
from cnnexplorer.errors import BatchSizeError, InputSizeError, UsageError

DESCRIPTION = """\
See how the classic image-classification CNNs (AlexNet, VGG, GoogLeNet, ResNet,
Wide ResNet, DenseNet) are built, what every layer costs, how two differ and how
they train. With no command, opens the explorer app."""

EPILOG = """\
examples:
  cnnexplorer                               open the explorer app
  cnnexplorer list                          every architecture with its cost
  cnnexplorer list --all                    ... and every other torchvision classifier
  cnnexplorer summary resnet50 --depth 2    layer table of ResNet-50
  cnnexplorer summary alexnet-2012 --format course
                                            the course text's AlexNet table, recomputed
  cnnexplorer summary vgg16 --input 3x32x32 --batch 64 --format json
  cnnexplorer diff vgg16 vgg19 --only-diff   what VGG-19 adds to VGG-16
  cnnexplorer graph googlenet --block inception3a
                                            how an Inception module's branches connect
  cnnexplorer summary convnext_tiny         any torchvision classifier, at its weights' size
  cnnexplorer diff resnet20 ./mynet.py:SmallNet
                                            your own network (the README's mynet.py; this runs it)
  cnnexplorer kernels --channels 64 --size 56
                                            one 7x7 conv against three stacked 3x3 convs
  cnnexplorer cache clear                   empty the analysis cache
  cnnexplorer runs compare RUN_A RUN_B      two training runs: config diff, curves overlaid

models: a zoo name (`cnnexplorer list`), any torchvision classifier (`list --all`),
timm:NAME (with timm installed), path/to/file.py:factory or package.module:factory
(a function or class returning an nn.Module; it gets num_classes when it takes it).

units: MACs are multiply-accumulates; FLOPs = 2 x MACs. Memory figures are estimates.

cache: analyses are kept on disk (see `cnnexplorer cache`), so a repeated list, summary,
diff or app launch answers without loading torch; --no-cache bypasses it."""

MODEL_HELP = "architecture: a zoo or torchvision name, timm:NAME, file.py:factory or package.module:factory"
NO_CACHE_HELP = "neither read nor fill the analysis cache (see `cnnexplorer cache`)"


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_analysis_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", metavar="CxHxW", help="input size, e.g. 3x224x224 (or 224 for 3x224x224); default: the model's own"
    )
    parser.add_argument("--batch", type=int, default=1, metavar="N", help="batch size (default 1)")
    parser.add_argument(
        "--dtype", default="float32", metavar="DTYPE", help="float32 (default), bfloat16 or float16: sets byte counts"
    )
    parser.add_argument(
        "--device",
        choices=("meta", "cpu"),
        default="meta",
        help="meta (default): no weights, no arithmetic; cpu: run the model for real, for one whose forward "
        "needs values (.item(), data-dependent branches); slower and never cached",
    )
    _add_no_cache_option(parser)


def _add_no_cache_option(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand that is not given --no-cache keeps the top-level parser's value.
    parser.add_argument("--no-cache", action="store_true", default=argparse.SUPPRESS, help=NO_CACHE_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cnnexplorer",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cnnexplorer {__version__}")
    parser.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)
    parser.set_defaults(handler=_run_app)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    app = commands.add_parser("app", help="open the explorer app (the default)")
    app.add_argument("model", nargs="?", help="architecture to open first")
    _add_no_cache_option(app)
    app.set_defaults(handler=_run_app)

    listing = commands.add_parser(
        "list",
        help="every architecture: family, year, params, GMACs, published accuracy",
        description="One row per architecture of the zoo, analysed at its default input size. "
        "Published top-1/top-5 are torchvision's ImageNet figures for the model's first weights "
        "(the original recipe, IMAGENET1K_V1, where torchvision has it; the caption names any other).",
    )
    listing.add_argument(
        "--all", action="store_true", help="every torchvision classifier too, not only the curated zoo"
    )
    listing.add_argument("--format", choices=("table", "json"), default="table")
    _add_no_cache_option(listing)
    listing.set_defaults(handler=_run_list)

    summary = commands.add_parser(
        "summary",
        help="layer-by-layer shapes, params, MACs/FLOPs, memory and receptive field of one model",
        description="Analyse one architecture on the meta device (no weights allocated, no real "
        "forward pass): every layer's shapes, parameters, MACs and FLOPs (FLOPs = 2 x MACs), "
        "activation memory and receptive field, plus totals and a memory estimate.",
        epilog="formats: table (default; depth 3; a torchinfo column where its Mult-Adds differ from the MACs, "
        "with the reasons), md, csv, json (stable, all layers unless --depth; documented in the README), course "
        "(the course text's AlexNet table columns), torchinfo (torchinfo's own summary, run on the meta device).",
    )
    summary.add_argument("model", help=MODEL_HELP)
    _add_analysis_options(summary)
    summary.add_argument("--depth", type=int, metavar="N", help="show modules down to this nesting depth")
    summary.add_argument("--format", default="table", choices=("table", "md", "csv", "json", "course", "torchinfo"))
    summary.set_defaults(handler=_run_summary)

    kernels = commands.add_parser(
        "kernels",
        help="the VGG argument: one large kernel against a stack of 3x3 kernels",
        description="Compare one kxk convolution (C->C channels, same padding) with the stack of "
        "3x3 convolutions that has the same receptive field, each followed by a ReLU. All "
        "figures come from the analysis engine.",
    )
    kernels.add_argument("--channels", type=int, default=64, metavar="C", help="channels in and out (default 64)")
    kernels.add_argument("--size", type=int, default=56, metavar="S", help="feature map height and width (default 56)")
    kernels.add_argument(
        "--kernel",
        type=int,
        action="append",
        metavar="K",
        help="large kernel size, odd, >= 5 (default 5 and 7; repeatable)",
    )
    kernels.set_defaults(handler=_run_kernels)
    _add_diff_command(commands)
    _add_graph_command(commands)
    _add_profile_command(commands)
    _add_cache_command(commands)
    from cnnexplorer.runs.cli import add_runs_parser
    from cnnexplorer.train.cli import add_eval_parser, add_train_parser  # torch-free at import

    add_train_parser(commands)
    add_eval_parser(commands)
    add_runs_parser(commands)
    return parser


DIFF_DESCRIPTION = """\
Put two architectures side by side, aligned layer by layer, and show what changed.
Both are analysed on the meta device (each at its own input size unless --input is
given, which then applies to both). Stages and blocks are matched first, then the
layers inside them, with an edit distance over layer signatures (type, channels,
kernel, stride, padding, groups, output size), so an inserted layer shows as one
insertion, not a cascade of mismatches.

Every row is marked (readable without colour):
  ~ changed   the two layers differ; the changes column says in what (out 64->128)
  + added     only in the right model
  - removed   only in the left model
    (blank)   the same on both sides"""

DIFF_EPILOG = """\
examples:
  cnnexplorer diff vgg16 vgg19                  the three extra 3x3 convolutions
  cnnexplorer diff resnet50 wide_resnet50_2 --only-diff
                                                the bottleneck widths, doubled
  cnnexplorer diff resnet18 resnet34 --depth 3  every block opened down to its layers
  cnnexplorer diff alexnet alexnet-2012 --format json

table and md: a container is one row unless it differs, then its contents are shown
(--depth N opens every container down to depth N instead). json lists every row, depth
first, with both sides' path, type, output shape, params and MACs (schema in the README).
Deltas are right minus left; MACs are multiply-accumulates (FLOPs = 2 x MACs)."""


def _add_diff_command(commands) -> None:
    diff = commands.add_parser(
        "diff",
        help="two architectures side by side, aligned layer by layer: what changed",
        description=DIFF_DESCRIPTION,
        epilog=DIFF_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff.add_argument("left", help="left " + MODEL_HELP)
    diff.add_argument("right", help="right architecture")
    _add_analysis_options(diff)
    diff.add_argument(
        "--format", default="table", choices=("table", "md", "json"), help="output format (default table)"
    )
    diff.add_argument("--only-diff", action="store_true", help="leave out the rows that are the same on both sides")
    diff.add_argument("--depth", type=int, metavar="N", help="open every container down to this nesting depth")
    diff.set_defaults(handler=_run_diff)


GRAPH_DESCRIPTION = """\
Draw how the layers of one block connect: its dataflow graph, as the analysis's one
meta-device pass ran it, with box-drawing characters, top to bottom in the order it ran.

  node   a module call (a module called three times, like a Bottleneck's shared relu,
         is three nodes: relu, relu#2, relu#3), or a functional op between modules that
         merges or reshapes paths (add_, cat, mul, view, flatten, permute), or a
         container drawn whole; each box shows its name (its path below the block),
         type, output shape (without the batch) and MACs (no MACs: no line)
  edge   a tensor passed from the node that made it to a node that read it; what the
         block reads from outside comes from `input`, what it returns goes to `output`
  depth  how many container levels below the block are opened: 1 (default) draws the
         block's own children, each container among them as one node; `all` opens
         every container down to single layers

A run of identical blocks in a row is folded into one node (`layer1.1–layer1.2`,
`2 × Bottleneck`), as the layer tree folds them; --no-fold draws each. A drawing wider
than --width is printed in pages of columns, each box whole on some page."""

GRAPH_EPILOG = """\
examples:
  cnnexplorer graph googlenet --block inception3a   the four branches and their cat
  cnnexplorer graph resnet50 --block layer1.0       a Bottleneck: its downsample and add_
  cnnexplorer graph resnet50 --depth 2              the stages opened into their blocks
  cnnexplorer graph densenet121 --block features.denseblock1 --format dot > block.dot

formats: text (default), json (schema in the README: nodes with id, path, op, shape, macs;
edges as [from, to]), dot (Graphviz) and mermaid (a flowchart), for slides and notes.
MACs are multiply-accumulates (FLOPs = 2 x MACs)."""


def _add_graph_command(commands) -> None:
    graph = commands.add_parser(
        "graph",
        help="how the layers of a block connect: its dataflow graph drawn in the terminal, MACs on its nodes",
        description=GRAPH_DESCRIPTION,
        epilog=GRAPH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    graph.add_argument("model", help=MODEL_HELP)
    graph.add_argument("--block", default="", metavar="PATH", help="the module to draw (layer1.0); default: the model")
    graph.add_argument("--depth", default="1", metavar="N", help="levels to open: 1 or more, or all (default 1)")
    graph.add_argument("--no-fold", action="store_true", help="draw each block of a run of identical blocks")
    graph.add_argument(
        "--format", default="text", choices=("text", "json", "dot", "mermaid"), help="output format (default text)"
    )
    graph.add_argument(
        "--width", type=int, metavar="COLS", help="page width of the text drawing (default: the terminal's width)"
    )
    _add_analysis_options(graph)
    graph.set_defaults(handler=_run_graph)


PROFILE_DESCRIPTION = """\
Measure what each layer of a model costs on this machine, with random weights (nothing
downloaded), and set it against the device's roofline.

  clocks    read in forward pre/post hooks on every leaf module. CPU: the wall clock
            (perf_counter), or with one torch thread (OMP_NUM_THREADS=1) that thread's CPU
            time (thread_time), which other processes do not inflate; CUDA: CUDA events
            recorded in the hooks, read after a synchronize (kernels launched
            asynchronously land between their layer's events). Training mode: backward
            timed around each leaf's autograd node, same clocks.
  steps     warm-up steps first, then --steps timed steps; every figure is a median. Steps
            alternate with and without the hooks: the hooks' overhead is printed.
  peaks     a large GEMM at the dtype (FLOP/s) and a large copy (bytes read + written / s),
            measured once per device, dtype, torch version (and CPU threads) and kept in the
            cache; --remeasure-peaks measures them again.
  bytes     per layer: its weights (parameters and floating buffers) read, its inputs read
            and its outputs written, at the dtype.
  roofline  bound = min(peak FLOP/s, intensity x peak bytes/s), intensity = FLOPs / bytes.

precision: auto (default) is fp32 on the CPU, bf16 on a GPU that has it, else fp16; bf16
and fp16 run under torch.autocast, as timm's benchmark.py does (weights stay float32).
FLOPs come from the analysis engine: FLOPs = 2 x MACs."""

PROFILE_EPILOG = """\
examples:
  cnnexplorer profile resnet18 --input 3x64x64 --batch 8
  cnnexplorer profile vgg16 --device cuda --batch 64 --mode training
  cnnexplorer profile densenet121 --device cuda:0 --precision bf16 --channels-last --format json

formats: table (default), csv (one row per leaf layer), json (schema 1, documented in the README)."""


def _add_profile_command(commands) -> None:
    profile = commands.add_parser(
        "profile",
        help="measured time per layer on a device (CPU or CUDA) against its roofline",
        description=PROFILE_DESCRIPTION,
        epilog=PROFILE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    profile.add_argument("model", help=MODEL_HELP)
    profile.add_argument("--device", default="cpu", metavar="DEVICE", help="cpu (default), cuda or cuda:N")
    profile.add_argument(
        "--input", metavar="CxHxW", help="input size, e.g. 3x224x224 (or 224 for 3x224x224); default: the model's own"
    )
    profile.add_argument("--batch", type=int, default=1, metavar="N", help="batch size (default 1)")
    profile.add_argument(
        "--precision", default="auto", metavar="P", help="auto (default), fp32, bf16 or fp16 (bf16/fp16: autocast)"
    )
    profile.add_argument("--channels-last", action="store_true", help="model and input in channels_last memory format")
    profile.add_argument("--mode", choices=("inference", "training"), default="inference", help="default inference")
    profile.add_argument("--steps", type=int, metavar="N", help="timed steps (default 10 on the CPU, 30 on a GPU)")
    profile.add_argument("--remeasure-peaks", action="store_true", help="measure the device's peaks again")
    profile.add_argument("--format", default="table", choices=("table", "json", "csv"), help="default table")
    _add_no_cache_option(profile)
    profile.set_defaults(handler=_run_profile)


CACHE_DESCRIPTION = """\
Every analysis (model, input, batch, dtype) is kept on disk once computed, so that
list, summary, diff and the app answer it again at once, without loading torch.
An entry (analysis-<hash>.json) holds the analysis (every layer), the key it was
stored under (the request, the model's definition and source for our own models,
the versions of cnnexplorer, torch, torchvision and torchinfo) and a digest of
both. A change to any of them makes a new entry; the old one is no longer read.
Beside them, per torchvision version: its classifiers' names (names-<hash>.json),
each one's input size and weights (torchvision-<hash>.json) and its published
figures (weights-<hash>.json); per analysis, torchinfo's Mult-Adds layer by layer
(torchinfo-<hash>.json); per device and dtype, the peaks `profile` measured
(peaks-<hash>.json).

Where: $CNNEXPLORER_CACHE_DIR if set, else $XDG_CACHE_HOME/cnnexplorer, else
~/.cache/cnnexplorer. `cache` (or `cache show`) prints the folder and its files
by kind; `cache clear` removes them. An entry that is damaged, edited, not a
regular file, too large or nested too deep is recomputed; a folder that cannot be
written leaves the cache off. --no-cache on a command bypasses it."""


def _add_cache_command(commands) -> None:
    cache = commands.add_parser(
        "cache",
        help="where the analysis cache is and its size; `cache clear` empties it",
        description=CACHE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cache.add_argument("action", nargs="?", choices=("show", "clear"), default="show", help="show (default) or clear")
    cache.set_defaults(handler=_run_cache)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cnnexplorer`` console script."""
    args = build_parser().parse_args(argv)
    if getattr(args, "no_cache", False):
        from cnnexplorer import disk_cache

        disk_cache.set_enabled(False)
    try:
        return args.handler(args) or 0
    except UsageError as error:
        hint = (
            "; choose another --input"
            if isinstance(error, InputSizeError)
            else "; choose a smaller --batch"
            if isinstance(error, BatchSizeError)
            else ""
        )
        print(f"cnnexplorer: error: {error}{hint}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("cnnexplorer: interrupted", file=sys.stderr)
        return 130


def _console():
    from rich.console import Console

    return Console(highlight=False)


def _analysis_request(args: argparse.Namespace, model: str):
    from cnnexplorer.analysis.request import AnalysisRequest

    return AnalysisRequest.from_text(model, args.input, args.batch, args.dtype)


def _run_summary(args: argparse.Namespace) -> int:
    request = _analysis_request(args, args.model)
    if args.depth is not None and args.depth < 0:
        raise UsageError(f"invalid --depth {args.depth}: it must be 0 or more")
    from cnnexplorer.analysis.store import analyze_on
    from cnnexplorer.render.summary import render

    _note_device(args.device)
    if args.format == "torchinfo":
        return _run_torchinfo_summary(request, args.depth, args.device)
    analysis = analyze_on(request, args.device)
    shows_layers = args.format == "table" and args.depth != 0
    torchinfo = _torchinfo_comparison(analysis, args.device) if shows_layers else None
    render(analysis, args.format, args.depth, _console(), torchinfo)
    return 0


def _run_torchinfo_summary(request, depth: int | None, device: str) -> int:
    from cnnexplorer.analysis.torchinfo_view import run_torchinfo
    from cnnexplorer.render.torchinfo import render_torchinfo_summary

    stats, _ = run_torchinfo(request, depth, device)
    sys.stdout.write(render_torchinfo_summary(str(stats), request, stats.total_mult_adds, device))
    return 0


def _torchinfo_comparison(analysis, device: str):
    """torchinfo's Mult-Adds beside the analysis's MACs, by layer; None (and a note) where it cannot run."""
    from cnnexplorer.analysis.torchinfo_view import compare, torchinfo_figures

    try:
        return compare(analysis, torchinfo_figures(analysis.request, device))
    except UsageError as error:
        print(f"note: no torchinfo column: {error}", file=sys.stderr)
        return None


def _note_device(device: str) -> None:
    if device != "meta":
        print(
            f"note: --device {device}: the model runs for real on the {device.upper()} (random weights and input); "
            "the figures count the same things, and are not cached",
            file=sys.stderr,
        )


def _run_list(args: argparse.Namespace) -> int:
    from cnnexplorer import zoo
    from cnnexplorer.overview import zoo_overview
    from cnnexplorer.render.overview import render_overview

    console = _console()
    architectures = [*zoo.ARCHITECTURES, *zoo.more_architectures()] if args.all else zoo.ARCHITECTURES
    rows = zoo_overview(progress=console.is_terminal, architectures=architectures)
    if args.format == "json":
        import json

        console.file.write(json.dumps([row.as_dict() for row in rows], indent=2) + "\n")
    else:
        console.print(render_overview(rows))
    return 0


def _run_diff(args: argparse.Namespace) -> int:
    left, right = _analysis_request(args, args.left), _analysis_request(args, args.right)
    if args.depth is not None and args.depth < 1:
        raise UsageError(f"invalid --depth {args.depth}: it must be 1 or more")
    from cnnexplorer.diff import diff_models
    from cnnexplorer.render.diff import render

    _note_device(args.device)
    diff = diff_models(left, right, args.device)
    render(diff, args.format, args.depth, args.only_diff, _console())
    return 0


LARGE_GRAPH_NODES = 300  # above this, `graph` says on stderr that the drawing takes a while


def _run_graph(args: argparse.Namespace) -> int:
    request = _analysis_request(args, args.model)
    depth = _graph_depth(args.depth)
    if args.width is not None and args.width < 1:
        raise UsageError(f"invalid --width {args.width}: give the page width in columns")
    from cnnexplorer.analysis.graph import block_graph
    from cnnexplorer.analysis.store import analyze_on
    from cnnexplorer.render import graph as drawing

    _note_device(args.device)
    graph = block_graph(analyze_on(request, args.device), args.block, depth, fold=not args.no_fold)
    if args.format == "json":
        import json

        sys.stdout.write(json.dumps(drawing.to_json(graph), indent=2, ensure_ascii=False) + "\n")
    elif args.format in ("dot", "mermaid"):
        sys.stdout.write(drawing.to_dot(graph) if args.format == "dot" else drawing.to_mermaid(graph))
    else:
        import shutil

        if len(graph.nodes) > LARGE_GRAPH_NODES:  # the layout takes seconds (densenet201 at all depths: half a minute)
            print(
                f"note: laying out {len(graph.nodes):,} nodes and {len(graph.edges):,} edges takes a while; "
                "--block or a smaller --depth draws less",
                file=sys.stderr,
                flush=True,
            )
        sys.stdout.write(drawing.render_text(graph, args.width or shutil.get_terminal_size().columns))
    return 0


def _graph_depth(text: str) -> int | None:
    """--depth: a number of levels, or ``all`` (None: every container opened)."""
    if text == "all":
        return None
    try:
        depth = int(text)
    except ValueError:
        depth = 0
    if depth < 1:
        raise UsageError(f"invalid --depth {text}: give 1 or more (1: the block's own children), or all")
    return depth


def _run_profile(args: argparse.Namespace) -> int:
    from cnnexplorer.analysis.inputs import parse_input
    from cnnexplorer.train.devices import check_device_flag

    check_device_flag(args.device)
    if args.precision not in ("auto", "fp32", "bf16", "fp16"):
        raise UsageError(f"unknown --precision {args.precision!r}: use auto, fp32, bf16 or fp16")
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"invalid --steps {args.steps}: give 1 or more")
    input_size = parse_input(args.input) if args.input is not None else None
    from cnnexplorer.profile.measure import ProfileRequest, profile_model
    from cnnexplorer.profile.render import render

    request = ProfileRequest(
        args.model, input_size, args.batch, args.device, args.precision, args.channels_last, args.mode,
        args.steps, remeasure_peaks=args.remeasure_peaks,
    )  # fmt: skip
    profile = profile_model(request, progress=lambda line: print(line, file=sys.stderr, flush=True))
    render(profile, args.format, _console())
    return 0


def _run_kernels(args: argparse.Namespace) -> int:
    from cnnexplorer.analysis.stacked_kernels import compare_stacked_kernels
    from cnnexplorer.render.kernels import render_comparison

    comparison = compare_stacked_kernels(args.channels, args.size, args.size, tuple(args.kernel or (5, 7)))
    _console().print(render_comparison(comparison))
    return 0


def _run_cache(args: argparse.Namespace) -> int:
    from cnnexplorer import disk_cache, units

    folder = disk_cache.cache_dir()
    if args.action == "clear":
        removed, freed, failures = disk_cache.clear()
        print(f"removed {removed} files ({units.size(freed)}) from {folder}")
        if failures:
            reason = failures[0].strerror or str(failures[0])
            message = f"could not remove {len(failures)} files from {folder}: {reason} (check the folder's permissions)"
            print(f"cnnexplorer: error: {message}", file=sys.stderr)
            return 1
        return 0
    usage = disk_cache.usage()
    described = {  # each kind of file: one, several
        "analysis": ("analysis", "analyses"),
        "weights": ("list of published weights", "lists of published weights"),
        "torchvision": ("torchvision model's input size", "torchvision models' input sizes"),
        "names": ("list of torchvision's models", "lists of torchvision's models"),
        "torchinfo": ("torchinfo comparison", "torchinfo comparisons"),
        "peaks": ("device's measured peaks", "devices' measured peaks"),
        "temporary": ("unfinished write", "unfinished writes"),
    }
    parts = [f"{count} {described.get(kind, (kind, kind))[count != 1]}" for kind, (count, _) in usage.items()]
    print(f"analysis cache: {folder}")
    print(f"{', '.join(parts) or 'empty'}: {units.size(sum(size for _, size in usage.values()))}")
    print(f"set {disk_cache.CACHE_DIR_VARIABLE} to move it; `cnnexplorer cache clear` empties it")
    return 0


def _run_app(args: argparse.Namespace) -> int:
    from cnnexplorer import zoo
    from cnnexplorer.app import make_app

    model = getattr(args, "model", None)
    if model is not None:
        zoo.get(model)  # an unknown name is a one-line error before the app starts
    make_app(initial_model=model).run()
    return 0
