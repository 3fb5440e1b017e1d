"""The one durable write (cnnexplorer.runs.atomic): whole or not at all, from any thread."""

import errno
import json
import os
import stat
import subprocess
import sys
import threading

import pytest

from cnnexplorer.runs import atomic
from tests.small_disk import file_size_limit, small_disk


def test_threads_writing_one_file_at_once_leave_one_whole_version(tmp_path):
    path = tmp_path / "entry.json"
    payloads = [bytes([65 + index]) * 2_000_000 for index in range(2)]
    errors = []

    def write_many(payload):
        try:
            for _ in range(20):
                atomic.write_atomic(path, payload)
        except OSError as error:  # a rename whose temporary file another thread took
            errors.append(error)

    threads = [threading.Thread(target=write_many, args=(payload,)) for payload in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert path.read_bytes() in payloads
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry.json"]


def test_a_writer_that_fails_leaves_the_old_file_and_no_temporary_file(tmp_path):
    path = tmp_path / "config.json"
    atomic.write_text_atomic(path, "old")

    def fail_half_way(stream):
        stream.write(b"new, half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        atomic.write_atomic(path, fail_half_way)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_a_folder_that_cannot_be_fsynced_still_gets_the_file(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def no_folder_fsync(descriptor, reason=errno.EINVAL):
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            raise OSError(reason, os.strerror(reason))
        real_fsync(descriptor)

    monkeypatch.setattr(atomic.os, "fsync", no_folder_fsync)
    atomic.write_text_atomic(tmp_path / "a.txt", "written")
    assert (tmp_path / "a.txt").read_text() == "written"
    monkeypatch.setattr(atomic.os, "fsync", lambda descriptor: no_folder_fsync(descriptor, errno.EIO))
    with pytest.raises(OSError, match="Input/output error"):  # a real failure is not hidden
        atomic.write_text_atomic(tmp_path / "b.txt", "written")


def test_stale_temporary_files_of_dead_writers_go_and_live_ones_stay(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid, live_pid = int(dead.stdout), os.getppid()
    path = tmp_path / "last.pt"
    stale = [tmp_path / f".last.pt.{dead_pid}.7.tmp", tmp_path / f".last.pt.{dead_pid}.tmp"]
    kept = [tmp_path / f".last.pt.{live_pid}.7.tmp", tmp_path / ".best.pt.1.tmp", tmp_path / "last.pt"]
    for file in stale + kept:
        file.write_text("")
    assert sorted(atomic.remove_stale_temp_files(path)) == sorted(stale)
    assert sorted(tmp_path.iterdir()) == sorted(kept)


def test_a_full_disk_under_torch_save_is_the_os_error_naming_the_file(tmp_path):
    """torch's serializer reports a failed write as its own RuntimeError ("enforce fail at
    inline_container.cc"); the durable write raises the OS's ENOSPC instead, naming the file,
    and leaves the old file whole and no temporary file."""
    import torch

    with small_disk(tmp_path / "disk", size="256k") as disk:
        path = disk / "last.pt"
        atomic.write_atomic(path, lambda stream: torch.save({"w": torch.zeros(10)}, stream))
        before = path.read_bytes()
        with pytest.raises(OSError) as raised:
            atomic.write_atomic(path, lambda stream: torch.save({"w": torch.zeros(100_000)}, stream))
        assert (raised.value.errno, raised.value.filename) == (errno.ENOSPC, str(path))
        assert path.read_bytes() == before and sorted(p.name for p in disk.iterdir()) == ["last.pt"]


_SAVE_PAST_THE_LIMIT = """
import json, sys, torch
from cnnexplorer.runs import atomic

path = sys.argv[1]
atomic.write_atomic(path, lambda stream: torch.save({"w": torch.zeros(10)}, stream))
try:
    atomic.write_atomic(path, lambda stream: torch.save({"w": torch.zeros(100_000)}, stream))
except OSError as error:
    print(json.dumps([error.errno, error.filename]))
"""


def test_a_file_size_limit_under_torch_save_is_the_os_error_naming_the_file(tmp_path):
    """No root needed: a child process limited to 64 kB files (RLIMIT_FSIZE) gets EFBIG inside
    torch's serializer; the durable write raises it naming the file, as for a full disk."""
    import torch

    path = tmp_path / "last.pt"
    argv = [sys.executable, "-c", _SAVE_PAST_THE_LIMIT, str(path)]
    child = subprocess.run(argv, capture_output=True, text=True, preexec_fn=file_size_limit(65536), timeout=120)
    assert child.returncode == 0 and child.stdout, child.stderr
    assert json.loads(child.stdout) == [errno.EFBIG, str(path)]
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.zeros(10))  # the old file whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
