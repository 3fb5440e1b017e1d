"""Stop a training process exactly while it writes a checkpoint, with no hook in the code
under test: inotify (Linux, through libc) reports the temporary file the durable write
creates (``.best.pt.<pid>.<thread>.tmp``) the moment it appears; the writer is then frozen
with SIGSTOP, so that the test can look at the run folder and decide, and SIGKILLed (or let go).
Once the writer is frozen, whether its temporary file is still there says whether the kill
lands inside the write (not yet renamed over the checkpoint) or after it."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

IN_CREATE = 0x100
_EVENT = struct.Struct("iIII")
TEMP_CHECKPOINT = re.compile(r"\.(best|last)\.pt\.\d+(?:\.\d+)?\.tmp")


class FolderWatch:
    """The paths created in folders, as inotify reports them."""

    def __init__(self, folder: Path) -> None:
        if not sys.platform.startswith("linux"):
            pytest.skip("inotify is Linux's")
        self.libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.descriptor = self.libc.inotify_init()
        if self.descriptor < 0:
            pytest.skip(f"inotify is not available here (errno {ctypes.get_errno()})")
        self.folders: dict[int, Path] = {}  # by watch descriptor
        self.add(folder)

    def add(self, folder: Path) -> None:
        watch = self.libc.inotify_add_watch(self.descriptor, str(folder).encode(), IN_CREATE)
        if watch < 0:
            pytest.skip(f"inotify cannot watch {folder} (errno {ctypes.get_errno()})")
        self.folders[watch] = folder

    def created(self, timeout: float) -> list[Path]:
        """Paths created since the last call, waiting up to ``timeout`` seconds for one."""
        ready, _, _ = select.select([self.descriptor], [], [], timeout)
        if not ready:
            return []
        data, paths, offset = os.read(self.descriptor, 65536), [], 0
        while offset < len(data):
            watch, _, _, length = _EVENT.unpack_from(data, offset)
            start = offset + _EVENT.size
            paths.append(self.folders[watch] / data[start : start + length].rstrip(b"\0").decode())
            offset = start + length
        return paths

    def close(self) -> None:
        os.close(self.descriptor)


class ForkServer:
    """tests/fork_cli.py in a child process: each :meth:`start` runs one command line there."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fork_cli"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=Path(__file__).parent.parent,
        )

    def start(self, argv: list[str], log: Path | None = None, err: Path | None = None, env: dict | None = None) -> Run:
        """Start ``cnnexplorer ARGV``, its output in ``log`` (the server's log by default), its
        errors in ``err`` (else with the output), with ``env`` set in the child."""
        request = {"argv": argv, "log": str(log or self.log), "err": str(err) if err else None, "env": env or {}}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return Run(self.process.stdout, int(self.process.stdout.readline()))

    def run(self, argv: list[str], env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        """Run ``cnnexplorer ARGV`` to its end, with ``env`` set, its output and its errors
        apart; one still running after ``timeout`` seconds is killed and fails the test."""
        with tempfile.TemporaryDirectory(prefix="fork-cli-") as logs:
            out, err = Path(logs) / "out", Path(logs) / "err"
            run = self.start(argv, log=out, err=err, env=env)
            deadline = time.monotonic() + timeout
            while run.poll() is None:
                if time.monotonic() > deadline:
                    run.send_signal(signal.SIGKILL)
                    run.wait()
                    pytest.fail(f"`cnnexplorer {' '.join(argv)}` still ran after {timeout} s")
                time.sleep(0.02)
            return subprocess.CompletedProcess(argv, run.returncode, out.read_text(), err.read_text())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


class Run:
    """One forked run: its PID, and its exit code once the server reports it."""

    def __init__(self, answers, pid: int) -> None:
        self.answers, self.pid, self.returncode = answers, pid, None

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self.answers], [], [], 0)[0]:
            self.returncode = int(self.answers.readline())
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = int(self.answers.readline())
        return self.returncode

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)


@dataclass(frozen=True)
class Kill:
    """Where a kill landed: in the write of best.pt or last.pt (``kind``), and whether the
    writer was frozen before that write's rename (``inside``) or only after it."""

    kind: str
    inside: bool


def run_until_killed(server: ForkServer, argv: list[str], folder: Path, decide, timeout: float = 120.0) -> Kill | None:
    """Run ``cnnexplorer ARGV`` on ``server``, writing into ``folder`` (a run folder, or the
    folder a new one is made in); at each checkpoint write freeze it and call ``decide(kind)``
    (kind: best or last): True kills it there (returns where the kill landed), False lets it go
    on. None: the process ended by itself (its exit code checked: 0)."""
    watch = FolderWatch(folder)
    run = server.start(argv)
    deadline = time.monotonic() + timeout
    try:
        while run.poll() is None and time.monotonic() < deadline:
            for path in watch.created(0.05):
                if path.is_dir():  # the new run's folder: its checkpoints come later
                    watch.add(path)
                found = TEMP_CHECKPOINT.fullmatch(path.name)
                if found is None or run.poll() is not None:
                    continue
                run.send_signal(signal.SIGSTOP)  # frozen mid-write while the test decides
                if not _wait_stopped(run.pid):
                    continue  # it ended before the signal landed
                inside = path.exists()  # not yet renamed over the checkpoint
                if decide(found.group(1)):
                    run.send_signal(signal.SIGKILL)
                    run.wait()
                    return Kill(found.group(1), inside)
                run.send_signal(signal.SIGCONT)
        if run.poll() is None:
            run.send_signal(signal.SIGKILL)
            raise AssertionError(f"cnnexplorer {' '.join(argv)} did not end in {timeout} s")
        assert run.returncode == 0, server.log.read_text()[-2000:]
        return None
    finally:
        watch.close()


def _wait_stopped(pid: int, timeout: float = 10.0) -> bool:
    """Wait until the kernel shows ``pid`` stopped (a signal is delivered when the process next
    runs, after a system call it is in); False if it exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return False
        state = stat[stat.rindex(")") + 2]  # the name in parentheses may hold spaces
        if state in "Tt":
            return True
        if state in "ZX":
            return False
        time.sleep(0.001)
    raise AssertionError(f"process {pid} did not stop in {timeout} s")
