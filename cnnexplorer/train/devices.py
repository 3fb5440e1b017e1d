"""Devices and distributed data parallel: one process per device under torchrun; and the
device choices of the app's launch form. Import-light: torch loads inside the functions."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from cnnexplorer.errors import UsageError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Placement:
    """Where this process runs: its device and its place among the ranks."""

    device: torch.device
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def describe_cuda_devices() -> str:
    """The CUDA devices there are, for error messages."""
    import torch

    if not torch.cuda.is_available():
        return "this machine has no CUDA device (use --device cpu)"
    names = [f"{i}: {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    return "the CUDA devices here are " + "; ".join(names)


def check_gpu_ids(ids: list[int]) -> None:
    """UsageError unless every id names a CUDA device."""
    import torch

    if not torch.cuda.is_available():
        raise UsageError(f"GPU {','.join(map(str, ids))} was asked for, but {describe_cuda_devices()}")
    for index in ids:
        if not 0 <= index < torch.cuda.device_count():
            raise UsageError(f"there is no GPU {index}: {describe_cuda_devices()}")


def under_torchrun() -> bool:
    """True in a process that torchrun started (it sets LOCAL_RANK and WORLD_SIZE)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


_DEVICE_FLAG = re.compile(r"cpu|cuda(:\d{1,4})?")


def check_device_flag(device: str | None) -> None:
    """A one-line UsageError unless ``--device`` is cpu, cuda or cuda:N (checked before
    torch loads; the CPU is one device, so ``cpu:N`` is refused)."""
    if device is not None and not _DEVICE_FLAG.fullmatch(device):
        raise UsageError(f"unknown --device {device!r}: use cpu, cuda or cuda:N (the CPU is one device)")


def resolve_placement(gpu: int | None, device: str | None) -> Placement:
    """The device of this process. Under torchrun, rank r takes cuda:LOCAL_RANK (or the CPU
    with ``--device cpu``) and joins the process group: nccl on CUDA, gloo on the CPU."""
    import torch

    if under_torchrun():
        local_rank = int(os.environ["LOCAL_RANK"])
        use_cuda = device != "cpu" and torch.cuda.is_available()
        if use_cuda:
            if local_rank >= torch.cuda.device_count():
                raise UsageError(f"LOCAL_RANK {local_rank} has no GPU: {describe_cuda_devices()}")
            torch.cuda.set_device(local_rank)
            target = torch.device("cuda", local_rank)
        else:
            target = torch.device("cpu")
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if use_cuda else "gloo", device_id=target if use_cuda else None)
        return Placement(target, dist.get_rank(), local_rank, dist.get_world_size())
    if gpu is not None:
        check_gpu_ids([gpu])
        torch.cuda.set_device(gpu)
        return Placement(torch.device("cuda", gpu))
    if device is None:
        return Placement(torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu"))
    try:
        target = torch.device(device)
    except RuntimeError:
        raise UsageError(f"unknown --device {device!r}: use cpu, cuda or cuda:N") from None
    if target.type == "cuda":
        check_gpu_ids([target.index or 0])
        torch.cuda.set_device(target.index or 0)
        return Placement(torch.device("cuda", target.index or 0))
    if target.type != "cpu":
        raise UsageError(f"--device {device}: only cpu and cuda are supported")
    return Placement(target)


def shutdown_distributed() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def torchrun_command(nproc: int, child_args: list[str], rendezvous: dict[str, str | None]) -> list[str]:
    """``python -m torch.distributed.run ... -m cnnexplorer <child_args>``: standalone on one
    node, or with the given rendezvous flags (--nnodes, --node-rank, --rdzv-*) across nodes."""
    command = [sys.executable, "-m", "torch.distributed.run"]
    flags = {key: value for key, value in rendezvous.items() if value is not None}
    if flags:
        flags.setdefault("rdzv-backend", "c10d")
        for key, value in flags.items():
            command += [f"--{key}", str(value)]
    else:
        command.append("--standalone")
    command += ["--nproc-per-node", str(nproc), "-m", "cnnexplorer", *child_args]
    return command


RELAUNCHED_ENV = "CNNEXPLORER_UNDER_LAUNCHER"


def relaunch_under_torchrun(command: list[str], visible_gpus: list[int] | None) -> int:
    """Run ``command`` (from :func:`torchrun_command`) and wait for it. With ``visible_gpus``
    the ranks see only those devices, so LOCAL_RANK r lands on the r-th of them.

    torchrun runs in its own session, so a Ctrl-C reaches only this process, which passes
    SIGINT/SIGTERM to the ranks themselves: they finish the step, write last.pt and exit
    cleanly (torchrun would otherwise kill them). The exit code is then 130/143."""
    env = dict(os.environ)
    env[RELAUNCHED_ENV] = "1"
    if visible_gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible_devices_value(visible_gpus, os.environ.get("CUDA_VISIBLE_DEVICES"))
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, _nproc_of(command)))))
    process = subprocess.Popen(command, env=env, start_new_session=True, stderr=subprocess.PIPE, text=True, bufsize=1)
    usage_errors: list[str] = []
    stderr_pump = threading.Thread(target=_pass_on_stderr, args=(process.stderr, usage_errors), daemon=True)
    stderr_pump.start()
    received: list[int] = []

    def relay(signum: int, _frame: object) -> None:
        received.append(signum)
        ranks = _children_of(process.pid)
        for pid in ranks or [process.pid]:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    previous = {sig: signal.signal(sig, relay) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    stderr_pump.join()
    if received and code == 0:
        return 128 + received[0]
    if usage_errors and code != 0:
        return 2
    return 128 - code if code < 0 else code


def _pass_on_stderr(stream: IO[str], usage_errors: list[str]) -> None:
    """Copy the ranks' and torchrun's stderr through; after a rank's one-line usage error
    (bad data found while running), drop torchrun's traceback about the failed rank."""
    for line in stream:
        if usage_errors:
            continue
        sys.stderr.write(line)
        sys.stderr.flush()
        if line.startswith("cnnexplorer: error:"):
            usage_errors.append(line)


def visible_devices_value(gpus: list[int], inherited: str | None) -> str:
    """CUDA_VISIBLE_DEVICES for ``--gpus``: the ids count within an inherited
    CUDA_VISIBLE_DEVICES (as torch numbers them), so they are mapped through it."""
    if inherited:
        parent = [entry.strip() for entry in inherited.split(",") if entry.strip()]
        return ",".join(parent[index] for index in gpus)
    return ",".join(map(str, gpus))


def stop_exit_code(signum: int) -> int:
    """A rank's exit code after a clean stop on ``signum``: 0 under our own launcher (which
    reports 128 + signum itself, and torchrun would call anything else a failure)."""
    return 0 if os.environ.get(RELAUNCHED_ENV) == "1" and under_torchrun() else 128 + signum


def _children_of(parent: int) -> list[int]:
    """Process ids whose parent is ``parent`` (Linux /proc; empty elsewhere)."""
    children = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return children
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stream:
                fields = stream.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            children.append(int(entry))
    return children


def _nproc_of(command: list[str]) -> int:
    return int(command[command.index("--nproc-per-node") + 1])


# The app's launch form ------------------------------------------------------------------

DDP_CHOICE = "gpus:"  # the launch form's choice of DDP on several GPUs, e.g. gpus:0,1
DEVICE_CHOICE_SYNTAX = "cpu, cuda:N or gpus:0,1"


def list_device_choices() -> list[str]:
    """The launch form's device choices: each CUDA device, all of them for DDP, then the CPU."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    choices = [f"cuda:{index}" for index in range(count)]
    if count > 1:
        choices.append(DDP_CHOICE + ",".join(map(str, range(count))))
    return choices + ["cpu"]
