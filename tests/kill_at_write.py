"""Stop a training process exactly while it writes a checkpoint, with no hook in the code
under test: inotify (Linux, through libc) reports the temporary file the durable write
creates (``.best.pt.<pid>.<thread>.tmp``) the moment it appears; the writer is then frozen
with SIGSTOP, so that the test can look at the run folder and decide, and SIGKILLed (or let go)."""

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
import time
from pathlib import Path

import pytest

IN_CREATE = 0x100
_EVENT = struct.Struct("iIII")
TEMP_CHECKPOINT = re.compile(r"\.(best|last)\.pt\.\d+(?:\.\d+)?\.tmp")


class FolderWatch:
    """The names created in folders, as inotify reports them."""

    def __init__(self, folder: Path) -> None:
        if not sys.platform.startswith("linux"):
            pytest.skip("inotify is Linux's")
        self.libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.descriptor = self.libc.inotify_init()
        if self.descriptor < 0:
            pytest.skip(f"inotify is not available here (errno {ctypes.get_errno()})")
        self.add(folder)

    def add(self, folder: Path) -> None:
        if self.libc.inotify_add_watch(self.descriptor, str(folder).encode(), IN_CREATE) < 0:
            pytest.skip(f"inotify cannot watch {folder} (errno {ctypes.get_errno()})")

    def created(self, timeout: float) -> list[str]:
        """Names created since the last call, waiting up to ``timeout`` seconds for one."""
        ready, _, _ = select.select([self.descriptor], [], [], timeout)
        if not ready:
            return []
        data, names, offset = os.read(self.descriptor, 65536), [], 0
        while offset < len(data):
            _, _, _, length = _EVENT.unpack_from(data, offset)
            start = offset + _EVENT.size
            names.append(data[start : start + length].rstrip(b"\0").decode())
            offset = start + length
        return names

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

    def start(self, argv: list[str]) -> Run:
        self.process.stdin.write(json.dumps({"argv": argv, "log": str(self.log)}) + "\n")
        self.process.stdin.flush()
        return Run(self.process.stdout, int(self.process.stdout.readline()))

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


def run_until_killed(server: ForkServer, argv: list[str], folder: Path, decide, timeout: float = 120.0) -> str | None:
    """Run ``cnnexplorer ARGV`` on ``server``, writing into ``folder`` (a run folder, or the
    folder a new one is made in); at each checkpoint write freeze it and call ``decide(kind)``
    (kind: best or last): True kills it there (returns the kind), False lets it go on. None:
    the process ended by itself (its exit code checked: 0)."""
    watch = FolderWatch(folder)
    run = server.start(argv)
    deadline = time.monotonic() + timeout
    try:
        while run.poll() is None and time.monotonic() < deadline:
            for name in watch.created(0.05):
                if (folder / name).is_dir():  # the new run's folder: its checkpoints come later
                    watch.add(folder / name)
                found = TEMP_CHECKPOINT.fullmatch(name)
                if found is None or run.poll() is not None:
                    continue
                run.send_signal(signal.SIGSTOP)  # frozen mid-write while the test decides
                if decide(found.group(1)):
                    run.send_signal(signal.SIGKILL)
                    run.wait()
                    return found.group(1)
                run.send_signal(signal.SIGCONT)
        if run.poll() is None:
            run.send_signal(signal.SIGKILL)
            raise AssertionError(f"cnnexplorer {' '.join(argv)} did not end in {timeout} s")
        assert run.returncode == 0, server.log.read_text()[-2000:]
        return None
    finally:
        watch.close()
