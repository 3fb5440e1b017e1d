"""A fork server for tests that start many short runs: imports torch and the CLI once, then
runs each command line it reads (JSON, one per line) in a forked child, so that a run costs
its own work, not seconds of imports. Answers each with the child's PID, then its exit code.

    python -m tests.fork_cli        # stdin: {"argv": [...], "log": PATH, "err": PATH, "env": {...}}
                                    # ("err": stderr apart, "env": set in the child; both optional)
                                    # stdout: PID, then exit code
"""

import json
import os
import sys

# Imported once, before any thread starts (the children fork clean): torch, what initialising
# a model on the meta device imports (torch._dynamo: seconds), torchvision (the transforms).
import torch._dynamo  # noqa: F401
import torchvision  # noqa: F401

import cnnexplorer.analysis.engine
import cnnexplorer.train.loop  # noqa: F401
from cnnexplorer.cli import main


def _child(argv: list[str], log: str, err: str | None, env: dict[str, str]) -> None:
    """Run ``cnnexplorer ARGV`` with its output in ``log`` (its errors in ``err`` where given)
    and ``env`` set; never returns."""
    code = 70
    try:
        os.environ.update(env)
        os.dup2(_opened(log), 1)
        os.dup2(_opened(err) if err else 1, 2)
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _opened(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _child(request["argv"], request["log"], request.get("err"), request.get("env", {}))
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)


if __name__ == "__main__":
    serve()
