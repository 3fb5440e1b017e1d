"""``cnnexplorer runs``: list the runs under a folder, show one, compare several (table, chart
or JSON) and export them to TensorBoard. Torch loads only for the export."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from cnnexplorer.errors import UsageError
from cnnexplorer.runs.catalog import DEFAULT_RUNS_DIR, RunSummary, find_run, list_runs, read_run
from cnnexplorer.runs.compare import IDENTITY_FIELDS, METRICS, X_AXES, compare_json

RUNS_DESCRIPTION = """\
The training runs under a folder (runs/ by default, where `cnnexplorer train` writes
them), read from their config.json and events.jsonl: nothing is changed.

  list     (the default) every run, newest first: model, status, epochs reached of those
           set, the best validation's top-1 and top-5 (%), wall time and training img/s;
           a damaged run is listed with its reason
  show     one run: its figures, its whole config and one row per validated epoch
  compare  runs side by side: their figures, the config fields that differ (run_dir, where
           a run lives, is never compared), and one metric's curves overlaid in a chart
  export   runs as TensorBoard event files: scalars step/METRIC by step and epoch/METRIC
           by epoch, the config as hparams (needs pip install 'cnnexplorer[tensorboard]')

A RUN is a run folder's path, or its name under --runs-dir. A resumed run is one run:
its segments are joined into one curve, the steps a resume redid counted once."""

RUNS_EPILOG = """\
examples:
  cnnexplorer runs                                  every run under runs/
  cnnexplorer runs show 20250101-120000-resnet20
  cnnexplorer runs compare RUN_A RUN_B --metric val_top1 --x epoch
  cnnexplorer runs compare RUN_A RUN_B --format json   (schema 1, in the README)
  cnnexplorer runs export RUN_A RUN_B --tensorboard tb/ && tensorboard --logdir tb/

metrics: train_loss (by step: the mean since the previous step event; by epoch: the
epoch's mean), val_loss, val_top1, val_top5 (%) and lr."""

RUNS_DIR_HELP = f"the folder that holds the run folders (default {DEFAULT_RUNS_DIR}/)"


def _add_runs_dir(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("--runs-dir", metavar="DIR", type=Path, default=default, help=RUNS_DIR_HELP)


def add_runs_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    runs = commands.add_parser(
        "runs",
        help="training runs: list them, show one, compare several (chart, config diff), export to TensorBoard",
        description=RUNS_DESCRIPTION,
        epilog=RUNS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_runs_dir(runs, DEFAULT_RUNS_DIR)
    runs.set_defaults(handler=run_list)
    actions = runs.add_subparsers(title="actions", metavar="ACTION", parser_class=type(runs))
    # SUPPRESS: an action not given --runs-dir keeps the value given before it (or the default).
    listing = actions.add_parser("list", help="every run, newest first (the default)")
    _add_runs_dir(listing, argparse.SUPPRESS)
    listing.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="one run: figures, config, a row per epoch")
    show.add_argument("run", metavar="RUN", help="a run folder, or its name under --runs-dir")
    _add_runs_dir(show, argparse.SUPPRESS)
    show.set_defaults(handler=run_show)

    compare = actions.add_parser(
        "compare",
        help="runs side by side: figures, the config fields that differ, curves overlaid",
        description="Runs side by side: their figures, the config fields that differ and one metric's curves "
        "overlaid in a chart (table), or all of it as JSON (schema 1, in the README; every metric unless --metric).",
    )
    compare.add_argument("runs", nargs="+", metavar="RUN", help="two runs or more: folders, or names under --runs-dir")
    compare.add_argument("--metric", choices=METRICS, help="the curve drawn (default train_loss)")
    compare.add_argument("--x", choices=X_AXES, default="step", help="by optimizer step (default) or by epoch")
    compare.add_argument("--format", choices=("table", "json"), default="table", help="default table")
    _add_runs_dir(compare, argparse.SUPPRESS)
    compare.set_defaults(handler=run_compare)

    export = actions.add_parser(
        "export",
        help="runs as TensorBoard event files (scalars by step and epoch, config as hparams)",
        description="Write each run to DIR/<run name> as TensorBoard event files: scalars step/METRIC by "
        "optimizer step and epoch/METRIC by epoch (METRIC: train_loss, val_loss, val_top1, val_top5, lr), "
        "and the config as hparams. Needs pip install 'cnnexplorer[tensorboard]'. Then: tensorboard --logdir DIR",
    )
    export.add_argument("runs", nargs="+", metavar="RUN", help="runs: folders, or names under --runs-dir")
    export.add_argument("--tensorboard", metavar="DIR", type=Path, required=True, help="where the event files go")
    _add_runs_dir(export, argparse.SUPPRESS)
    export.set_defaults(handler=run_export)
    return runs


def _console():
    from rich.console import Console

    return Console(highlight=False)


def _named_runs(names: list[str], runs_dir: Path) -> list[RunSummary]:
    folders = [find_run(name, runs_dir) for name in names]
    seen: dict[Path, str] = {}
    for folder, name in zip(folders, names):
        key = folder.resolve()
        if key in seen:
            raise UsageError(f"{name} and {seen[key]} are the same run: name each run once")
        seen[key] = name
    return [read_run(folder) for folder in folders]


def run_list(args: argparse.Namespace) -> int:
    from cnnexplorer.render.runs import render_list

    runs = list_runs(args.runs_dir)
    if not runs:
        print(f"no runs under {args.runs_dir}: `cnnexplorer train MODEL ...` writes them there")
        return 0
    _console().print(render_list(runs))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from cnnexplorer.render.runs import render_show

    _console().print(render_show(read_run(find_run(args.run, args.runs_dir))))
    return 0


def run_compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        raise UsageError("runs compare needs two runs or more (`cnnexplorer runs show RUN` shows one)")
    runs = _named_runs(args.runs, args.runs_dir)
    if args.format == "json":
        metrics = (args.metric,) if args.metric else METRICS
        sys.stdout.write(json.dumps(compare_json(runs, metrics, args.x), indent=2) + "\n")
        return 0
    from cnnexplorer.render.runs import render_compare

    console = _console()
    width = min(console.width, shutil.get_terminal_size().columns)
    console.print(render_compare(runs, args.metric or "train_loss", args.x, width, console.is_terminal))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from cnnexplorer.runs.tensorboard import check_installed, export_run

    check_installed()  # before any folder is read: the one thing to fix first
    runs = _named_runs(args.runs, args.runs_dir)
    for run in runs:
        log_dir = export_run(run, args.tensorboard)
        note = f" (damaged: {run.problem})" if run.problem else ""
        print(f"wrote {log_dir}{note}")
    hidden = ", ".join(sorted(IDENTITY_FIELDS))
    print(f"view them: tensorboard --logdir {args.tensorboard} (hparams: the config less {hidden})")
    return 0
