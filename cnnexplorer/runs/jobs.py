"""Training and evaluation jobs as child processes.

A job runs the same command line a user would type (``python -m cnnexplorer train ...``,
or torchrun for several GPUs, which ``train --gpus`` launches itself) with ``--events -``:
events arrive on the child's stdout, its human-readable lines on stderr. Textual-free: the
app's jobs screen polls each job's :class:`~cnnexplorer.runs.state.RunState` and log.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from pathlib import Path

from cnnexplorer.runs.events import EventStreamError, parse_event
from cnnexplorer.runs.state import RunState


class Job:
    """One child process and the state its events build. Two reader threads fold its events
    into :attr:`state` and keep the last lines of its log; the caller polls them.

    A job that resumes a run starts from that run's ``history`` (its state read from its
    folder): the child's events continue it, so the state holds the whole run."""

    def __init__(self, argv: list[str], cwd: Path | None = None, history: RunState | None = None) -> None:
        self.argv = argv
        self.cwd = cwd
        self.launched_at = time.time()
        # Until the start event says more: `python -m cnnexplorer COMMAND MODEL ...`.
        ours = argv[1:3] == ["-m", "cnnexplorer"] and len(argv) > 4
        self.state = history or RunState(command=argv[3] if ours else "train", model=argv[4] if ours else None)
        self.log: deque[str] = deque(maxlen=200)
        self.returncode: int | None = None
        self._process: subprocess.Popen[str] | None = None
        self._log_reader: threading.Thread | None = None

    @property
    def command_line(self) -> str:
        """The command as one shell line, to copy into a terminal: without ``--events -``,
        the app's own pipe to the job (in a shell the run folder keeps the events)."""
        shown = ["cnnexplorer", *self.argv[3:]] if self.argv[1:3] == ["-m", "cnnexplorer"] else self.argv
        for index in range(len(shown) - 1):
            if shown[index : index + 2] == ["--events", "-"]:
                shown = shown[:index] + shown[index + 2 :]
                break
        return shlex.join(shown)

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
            except (EventStreamError, KeyError, TypeError, ValueError):
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
