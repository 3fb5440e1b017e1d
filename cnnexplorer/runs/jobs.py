"""Training and evaluation jobs as child processes, and the run folders they evaluate or resume.

A job runs the command line of its request as a user would type it (``cnnexplorer train
...``; torchrun for several GPUs, which ``train --gpus`` launches itself), under this
Python, with ``--events -``: events arrive on the child's stdout, its human-readable lines
on stderr. Textual-free: the app's jobs screen polls each job's
:class:`~cnnexplorer.runs.state.RunState` and log.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Annotated, Protocol

import msgspec

from cnnexplorer.runs.atomic import process_alive
from cnnexplorer.runs.events import EventStreamError, parse_event
from cnnexplorer.runs.rundir import lock_holder
from cnnexplorer.runs.safe_read import read_json
from cnnexplorer.runs.state import RunState, discover_runs, shown_path

# A run's config.json as data: flat settings (short names; numbers, flags, short texts, lists
# of numbers), nothing nested; what `train` writes (TrainConfig.as_dict) fits.
_Setting = Annotated[str, msgspec.Meta(max_length=4096)] | int | float | bool | None | list[int]
RecordedConfig = dict[Annotated[str, msgspec.Meta(max_length=64)], _Setting]


class JobRequest(Protocol):
    """What a job runs: ``cnnexplorer COMMAND MODEL ...``."""

    @property
    def command(self) -> str: ...  # train or eval

    @property
    def model(self) -> str: ...

    def argv(self) -> list[str]:
        """The arguments after ``cnnexplorer``, as a user would type them."""
        ...


class Job:
    """One child process and the state its events build. Two reader threads fold its events
    into :attr:`state` and keep the last lines of its log; the caller polls them.

    A job that resumes a run starts from that run's ``history`` (its state read from its
    folder): the child's events continue it, so the state holds the whole run."""

    def __init__(self, request: JobRequest, cwd: Path | None = None, history: RunState | None = None) -> None:
        self.request = request
        self.cwd = cwd
        self.launched_at = time.time()
        self.state = history or RunState(command=request.command, model=request.model)  # until its start event
        self.log: deque[str] = deque(maxlen=200)
        self.returncode: int | None = None
        self._process: subprocess.Popen[str] | None = None
        self._log_reader: threading.Thread | None = None

    @property
    def argv(self) -> list[str]:
        """The child's command line: the request's, with its events on stdout."""
        return [sys.executable, "-m", "cnnexplorer", *self.request.argv(), "--events", "-"]

    @property
    def command_line(self) -> str:
        """The request as one shell line, to copy into a terminal (where the run folder keeps
        the events that come to the app on the child's stdout)."""
        return shlex.join(["cnnexplorer", *self.request.argv()])

    @property
    def running(self) -> bool:
        return self._process is not None and self.returncode is None

    def start(self) -> None:
        """Start the child and its two reader threads."""
        self._process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",  # a stray byte becomes one odd line in the log, not a dead reader
            bufsize=1,
            start_new_session=True,  # a ctrl+c in the app's terminal is not the job's
        )
        self.state.status = "starting"
        self._log_reader = threading.Thread(target=self._read_log, daemon=True)
        self._log_reader.start()
        threading.Thread(target=self._read_events, daemon=True).start()

    def _read_events(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        # Keep draining stdout whatever a line holds: a reader that stopped would leave
        # the child blocked on a full pipe.
        for line in self._process.stdout:
            try:
                self.state.apply(parse_event(line))
            except EventStreamError:
                self.log.append(line.rstrip())
        self.returncode = self._process.wait()
        self._log_reader.join(timeout=5)  # the child's last stderr lines explain its exit
        if self.state.status in ("starting", "running"):  # exited without a 'done' event
            self.state.status = "cancelled" if self.returncode in (130, 143) else "failed"
            if self.state.status == "failed" and self.state.error is None:
                tail = next((line for line in reversed(list(self.log)) if line.strip()), "")
                self.state.error = f"exit code {self.returncode}: {tail}"
        run_dir = self.state.run_dir
        if run_dir is not None and self.state.status != "done":
            # A segment that stopped before its first checkpoint leaves the previous last.pt.
            self.state.resumable = (run_dir / "last.pt").exists()

    def _read_log(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            self.log.append(line.rstrip())

    def cancel(self) -> None:
        """Ask the child to stop: it finishes its step, writes last.pt and exits 130."""
        if self.running and self._process is not None:
            self._process.send_signal(signal.SIGINT)

    def kill(self) -> None:
        """Stop the child's whole process group now (torchrun and its ranks included)."""
        if self.running and self._process is not None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the child to exit; returns its exit code (None on timeout)."""
        if self._process is None:
            return self.returncode
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def headless_trainer(run_dir: Path) -> int:
    """The PID of the process that trains ``run_dir`` outside this app (started from a shell,
    or left running by an app that quit), verified, since the lock file is data: a live
    process holds the folder's lock, the lock names it, and its command line is a
    ``cnnexplorer train`` writing that folder. ValueError, in one line, otherwise."""
    pid = lock_holder(run_dir)
    if pid is None:
        raise ValueError("no process holds its lock: it is not running")
    if not pid or pid == os.getpid() or not process_alive(pid):
        raise ValueError("its lock names no live process to stop")
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes()[:_COMMAND_LINE_MOST].split(b"\0")
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        raise ValueError(f"process {pid}'s command line cannot be read, so it is not stopped") from None
    command = [os.fsdecode(argument) for argument in arguments if argument]
    if not _trains_folder(command, cwd, run_dir):
        shown = shlex.join(command)[:80]
        raise ValueError(f"process {pid} ({shown}) is not a cnnexplorer train of this run folder: not stopped")
    return pid


_COMMAND_LINE_MOST = 1 << 16


def _trains_folder(command: list[str], cwd: Path, run_dir: Path) -> bool:
    """Whether ``command`` (run in ``cwd``) is ``cnnexplorer train`` (the console script, or
    ``python -m cnnexplorer``) writing ``run_dir``: a new run under its ``--output`` (runs/ by
    default), or a resume of a last.pt in that folder."""
    starts = [
        index + 1
        for index, argument in enumerate(command)
        if (argument == "cnnexplorer" and index > 0 and command[index - 1] == "-m")
        or (Path(argument).name == "cnnexplorer" and index <= 1)
    ]
    if not starts or command[starts[0] : starts[0] + 1] != ["train"]:
        return False
    arguments = command[starts[0] + 1 :]
    output, resume = _option(arguments, "--output"), _option(arguments, "--resume")
    target = Path(os.path.abspath(run_dir)).resolve()
    if resume is not None:
        resumed = (cwd / resume).resolve().parent
        if output is None or (cwd / output).resolve() == resumed.parent:
            return resumed == target
    return (cwd / (output or "runs")).resolve() == target.parent


def _option(arguments: list[str], flag: str) -> str | None:
    """The value of ``flag`` (``--flag VALUE`` or ``--flag=VALUE``), the last one given."""
    value = None
    for index, argument in enumerate(arguments):
        if argument == flag and index + 1 < len(arguments):
            value = arguments[index + 1]
        elif argument.startswith(flag + "="):
            value = argument[len(flag) + 1 :]
    return value


def stop_headless_trainer(run_dir: Path, pid: int) -> None:
    """Ask the verified trainer ``pid`` of ``run_dir`` to stop (SIGINT: it finishes its step,
    writes last.pt and exits), verifying it again first (a confirmation takes time, and a
    PID can be reused); ValueError, in one line, where it is no longer that process."""
    if headless_trainer(run_dir) != pid:
        raise ValueError(f"process {pid} no longer trains this run folder: not stopped")
    try:
        os.kill(pid, signal.SIGINT)
    except OSError as error:
        raise ValueError(f"cannot signal process {pid}: {error.strerror or error}") from None


def known_checkpoints(runs_dir: Path, model: str) -> list[Path]:
    """The ``best.pt`` and ``last.pt`` files of the model's runs under ``runs_dir``, newest run first."""
    found = [run.run_dir for run in discover_runs(runs_dir) if run.model == model and run.run_dir is not None]
    return [folder / name for folder in found for name in ("best.pt", "last.pt") if (folder / name).is_file()]


def run_to_resume(state: RunState) -> tuple[str, Path]:
    """The model and ``last.pt`` of a stopped run, to resume; ValueError, in one line, when it
    cannot be: no last.pt, the run is still going in another process (one started headless,
    or by another app), which holds its folder, or its recorded model is the user's own code."""
    if state.run_dir is None or not (state.run_dir / "last.pt").is_file():
        raise ValueError("this run has no last.pt to resume from")
    holder = lock_holder(state.run_dir)
    if holder is not None:
        who = f"process {holder}" if holder else "another process"
        raise ValueError(f"it is still running in {who}: wait for it to end, or stop it first")
    last = state.run_dir / "last.pt"
    model = _model_of(state)
    if names_user_code(model):
        command = f"cnnexplorer train {model} --resume {shown_path(last)}"
        raise ValueError(
            f"its recorded model {model!r:.80} is code (a file or module), which the app never runs from "
            f"what a run folder says: if you trust it, resume it from a shell: {command}"
        )
    return model, last


def names_user_code(model: str) -> bool:
    """Whether a model name is the user's code (``file.py:factory``, ``package.module:factory``),
    which resolving it would import: a name with a colon other than ``timm:`` and ``torchvision:``."""
    prefix, colon, _ = model.strip().rpartition(":")
    return bool(colon) and not model.strip().startswith("timm:") and prefix != "torchvision"


def _model_of(state: RunState) -> str:
    """The run's model as its config.json names it; ValueError, in one line, when that file
    cannot be read or names no model."""
    assert state.run_dir is not None
    model = recorded_config(state.run_dir).get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValueError("its config.json does not name its model")
    return model


def recorded_config(run_dir: Path) -> dict:
    """A run's config.json, read as data (a regular file, bounded, flat); ValueError, in one
    line, when it is not such a file."""
    try:
        return read_json(run_dir / "config.json", RecordedConfig)
    except OSError as error:
        raise ValueError(f"its config.json cannot be read: {error.strerror or error}") from None
    except ValueError as error:
        raise ValueError(f"its config.json is damaged: {error}") from None
