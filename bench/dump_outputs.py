"""Write what `list`, `summary` and `diff` print for the whole zoo into a folder, one file per
command, so that two versions of the code can be compared byte for byte:

    PYTHONPATH=/path/to/old python bench/dump_outputs.py /tmp/before
    python bench/dump_outputs.py /tmp/after
    diff -r /tmp/before /tmp/after

Each command runs twice against a fresh cache folder: once filling the cache, once reading
it back (files ``*.cold`` and ``*.cached``), so the store's round trip is compared too.
Commands run in this process with a fixed terminal width.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

os.environ["COLUMNS"] = "120"
os.environ["LINES"] = "40"


def _run(argv: list[str]) -> str:
    from cnnexplorer.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code
    return f"{out.getvalue()}--- stderr\n{err.getvalue()}--- exit {code}\n"


def _commands(models: list[str]) -> dict[str, list[str]]:
    commands = {"list": ["list"], "list-all": ["list", "--all"]}
    for model in models:
        for form in ("table", "md", "csv", "json"):
            commands[f"summary-{model}-{form}"] = ["summary", model, "--format", form]
        commands[f"summary-{model}-depth1"] = ["summary", model, "--depth", "1"]
    commands["summary-alexnet-2012-course"] = ["summary", "alexnet-2012", "--format", "course"]
    for first, second in zip(models, models[1:]):
        commands[f"diff-{first}-{second}"] = ["diff", first, second]
        commands[f"diff-{first}-{second}-json"] = ["diff", first, second, "--format", "json"]
    return commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    from cnnexplorer import zoo

    models = list(zoo.names())
    with tempfile.TemporaryDirectory() as cache:
        os.environ["CNNEXPLORER_CACHE_DIR"] = cache
        commands = _commands(models)
        for round_name in ("cold", "cached"):
            for name, argv in commands.items():
                (args.folder / f"{name}.{round_name}").write_text(_run(argv))
            print(f"{round_name}: {len(commands)} commands", file=sys.stderr)


if __name__ == "__main__":
    main()
