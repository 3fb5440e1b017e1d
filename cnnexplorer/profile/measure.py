"""Measure a model's time per leaf module on a device, with random weights.

Clocks: on the CPU a synchronous wall clock (``time.perf_counter``) read in forward pre/post
hooks of each leaf module; on CUDA, CUDA events recorded in the same hooks and read after a
synchronize, so the kernels a layer launches asynchronously land between its own two events
(the stream runs them in launch order). Backward per leaf (training mode): hooks before and
after the autograd node that made the leaf's output (its grad_fn), same clocks; full module
backward hooks would refuse the in-place ops that follow many layers (``out += identity``).
The whole model is timed in the same run with the hooks removed, steps alternating with and
without them, so that their overhead is measured. Warm-up steps first; every figure is the
median over the timed steps.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cnnexplorer import units
from cnnexplorer.analysis.flow_recorder import tensors_in
from cnnexplorer.errors import NeedsValuesError, UsageError
from cnnexplorer.profile.peaks import cpu_clock, device_name, device_peaks
from cnnexplorer.profile.results import LayerProfile, Profile

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}


@dataclass(frozen=True)
class ProfileRequest:
    model: str
    input_size: tuple[int, int, int] | None = None  # None: the model's own
    batch: int = 1
    device: str = "cpu"
    precision: str = "auto"  # auto, fp32, bf16, fp16
    channels_last: bool = False
    mode: str = "inference"  # or "training"
    steps: int | None = None  # None: 10 on the CPU, 30 on a GPU
    warmup: int | None = None  # None: 3 on the CPU, 10 on a GPU
    remeasure_peaks: bool = False


def resolve_device(text: str) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N`` as a torch device that exists here; UsageError otherwise."""
    from cnnexplorer.train.devices import check_device_flag, check_gpu_ids

    check_device_flag(text)
    if text == "cpu":
        return torch.device("cpu")
    index = int(text.partition(":")[2] or 0)
    check_gpu_ids([index])
    return torch.device("cuda", index)


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """auto: fp32 on the CPU; bf16 on a GPU that has it, else fp16."""
    if precision == "auto":
        if device.type == "cpu":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision not in PRECISIONS:
        raise UsageError(f"unknown --precision {precision!r}: use auto, fp32, bf16 or fp16")
    return PRECISIONS[precision]


class _Clock:
    """CUDA events on a GPU (read after a synchronize); on the CPU, the wall clock
    (perf_counter), or with one torch thread that thread's CPU time (thread_time): all the
    work then runs on it, and another process on a shared machine does not inflate it."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.device = device
        self.cpu_clock = cpu_clock()

    @property
    def name(self) -> str:
        if self.cuda:
            return "CUDA events"
        return "thread CPU time (1 thread)" if self.cpu_clock is time.thread_time else "wall clock"

    def mark(self):
        if not self.cuda:
            return self.cpu_clock()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def ms(self, start, end) -> float:
        return start.elapsed_time(end) if self.cuda else 1e3 * (end - start)

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)


class _LeafTimer:
    """Forward (and backward) hooks on every leaf module, recording (path, start, end) marks."""

    def __init__(self, model: nn.Module, clock: _Clock, backward: bool) -> None:
        self.clock = clock
        self.leaves = [(path, m) for path, m in model.named_modules() if not any(True for _ in m.children())]
        self.backward = backward
        self.handles: list = []
        self.forward_marks: list[tuple[str, object, object]] = []
        self.backward_marks: list[tuple[str, object, object]] = []
        self.moved: dict[str, int] = {}  # activation elements read + written per step, by path
        self.count_elements = False

    def attach(self) -> None:
        for path, module in self.leaves:
            started: list = []
            self.handles.append(module.register_forward_pre_hook(self._forward_start(started)))
            self.handles.append(module.register_forward_hook(self._forward_end(path, started), with_kwargs=True))

    def detach(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def _forward_start(self, started: list):
        def hook(module, args):
            # The autograd nodes the inputs came from: a module that makes none of its own
            # (nn.Identity) returns one of them, and has no backward to time.
            made_before = {id(t.grad_fn) for t in tensors_in(args) if t.grad_fn is not None} if self.backward else set()
            started.append((made_before, self.clock.mark()))

        return hook

    def _forward_end(self, path: str, started: list):
        def hook(module, args, kwargs, output):
            made_before, start = started.pop()
            self.forward_marks.append((path, start, self.clock.mark()))
            if self.backward:
                self._time_backward(path, output, made_before)
            if self.count_elements:
                elements = _elements(args) + _elements(kwargs) + _elements(output)
                self.moved[path] = self.moved.get(path, 0) + elements

        return hook

    def _time_backward(self, path: str, output, made_before: set[int]) -> None:
        """Marks around the autograd node that made the leaf's output: its backward (one node
        for a convolution, batch norm, linear layer or activation; an in-place one's too)."""
        tensor = next((t for t in tensors_in(output) if t.grad_fn is not None), None)
        if tensor is None or id(tensor.grad_fn) in made_before:
            return
        started: list = []
        tensor.grad_fn.register_prehook(lambda grad_outputs: started.append(self.clock.mark()))
        tensor.grad_fn.register_hook(
            lambda grad_inputs, grad_outputs: self.backward_marks.append((path, started.pop(), self.clock.mark()))
        )

    def take(self) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
        """This step's forward and backward ms by path, and calls by path (after a sync)."""
        forward: dict[str, float] = {}
        calls: dict[str, int] = {}
        for path, start, end in self.forward_marks:
            forward[path] = forward.get(path, 0.0) + self.clock.ms(start, end)
            calls[path] = calls.get(path, 0) + 1
        backward: dict[str, float] = {}
        for path, start, end in self.backward_marks:
            backward[path] = backward.get(path, 0.0) + self.clock.ms(start, end)
        self.forward_marks, self.backward_marks = [], []
        return forward, backward, calls


def _elements(value) -> int:
    return sum(tensor.numel() for tensor in tensors_in(value))


def _loss(output) -> torch.Tensor:
    """A scalar to call backward on: the float sum of every output tensor (auxiliary heads too)."""
    if isinstance(output, torch.Tensor):
        return output.float().sum()
    if isinstance(output, dict):
        output = list(output.values())
    return sum(_loss(item) for item in output if isinstance(item, (torch.Tensor, list, tuple, dict)))


def profile_model(request: ProfileRequest, progress: Callable[[str], None] = print) -> Profile:
    """Measure ``request``'s model: peaks, whole-model and per-leaf times, peak memory."""
    from cnnexplorer.analysis.request import AnalysisRequest
    from cnnexplorer.analysis.store import analyze_cached, analyze_on
    from cnnexplorer.zoo import get
    from cnnexplorer.zoo.user_code import one_line

    device = resolve_device(request.device)
    dtype = resolve_dtype(request.precision, device)
    if request.mode not in ("inference", "training"):
        raise UsageError(f"unknown --mode {request.mode!r}: use inference or training")
    on_gpu = device.type == "cuda"
    steps = request.steps or (30 if on_gpu else 10)
    warmup = request.warmup if request.warmup is not None else (10 if on_gpu else 3)
    if steps < 1 or warmup < 0:
        raise UsageError(f"invalid --steps {steps}: give 1 or more")
    analysis_request = AnalysisRequest.of(request.model, request.input_size, request.batch, DTYPE_NAMES[dtype])
    try:
        analysis = analyze_cached(analysis_request)
    except NeedsValuesError:  # a forward that branches on values: the engine counts a real CPU forward
        progress("the meta device cannot run it: counting FLOPs on a real CPU forward")
        analysis = analyze_on(analysis_request, "cpu")
    estimate = memory_estimate(analysis, request.mode == "training")
    # CUDA events and streams are the current device's: make it the one profiled.
    with torch.cuda.device(device) if on_gpu else contextlib.nullcontext():
        run, failure = None, None
        try:
            peaks = device_peaks(device, dtype, request.remeasure_peaks, progress)
            run = _runner(get(request.model), analysis_request.input_size, request, device, dtype)
            measured = _measure(run, steps, warmup, progress)
        except (RuntimeError, ValueError, TypeError, AssertionError) as error:  # OutOfMemoryError: a RuntimeError
            if isinstance(error, torch.OutOfMemoryError) or "can't allocate memory" in str(error):
                failure = (
                    f"out of memory: batch {request.batch} of {request.model} did not fit on {device} "
                    f"({device_name(device)}); the engine estimates {units.size(estimate)} for the {request.mode} "
                    "step (an estimate); choose a smaller --batch"
                )
            else:
                failure = f"{request.model} failed on {device}: {one_line(error)}"
        if failure is not None:
            run = None  # the model and its tensors go before the cache is emptied
            _free(device)
            raise UsageError(failure)
    return _profile(request, analysis, peaks, dtype, steps, measured, estimate, run)


def memory_estimate(analysis, training: bool) -> int:
    """The engine's estimate of a step's memory: inference, weights + buffers + activations;
    training, weights + buffers + gradients + saved activations (no optimizer state: the
    profiled step runs no optimizer)."""
    memory = analysis.memory
    if not training:
        return memory.inference_bytes
    return memory.training_bytes("sgd") - memory.optimizer_state_bytes["sgd"]


def _runner(arch, input_size, request: ProfileRequest, device: torch.device, dtype: torch.dtype) -> _Runner:
    """The model with random weights (seed 0) on the device, in its mode and memory format,
    and a random input batch."""
    from cnnexplorer.analysis.engine import build_model

    torch.manual_seed(0)
    training = request.mode == "training"
    model = build_model(arch, str(device))
    model.train(training)
    memory_format = torch.channels_last if request.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    inputs = torch.randn(request.batch, *input_size, device=device).contiguous(memory_format=memory_format)
    return _Runner(model, inputs, dtype, device, training)


class _Runner:
    """One step of the model: a forward (inference: no grad), or a forward and backward."""

    def __init__(self, model, inputs, dtype, device, training) -> None:
        self.model, self.inputs, self.training = model, inputs, training
        self.clock = _Clock(device)
        self.autocast = dtype != torch.float32
        self.dtype = dtype
        self.device = device

    def context(self):
        if self.autocast:
            return torch.autocast(self.device.type, dtype=self.dtype)
        return contextlib.nullcontext()

    def step(self) -> tuple[float, float | None]:
        """Forward ms and backward ms (None in inference mode) of one step, synchronised."""
        clock = self.clock
        with torch.set_grad_enabled(self.training):
            start = clock.mark()
            with self.context():
                output = self.model(self.inputs)
            forward_end = clock.mark()
            if self.training:
                _loss(output).backward()
                backward_end = clock.mark()
        clock.sync()
        if self.training:
            self.model.zero_grad(set_to_none=True)
            return clock.ms(start, forward_end), clock.ms(forward_end, backward_end)
        return clock.ms(start, forward_end), None


@dataclass
class _Measured:
    forward_ms: float
    forward_ms_with_hooks: float
    backward_ms: float | None
    leaf_forward: dict[str, float]
    leaf_backward: dict[str, float]
    calls: dict[str, int]
    types: dict[str, str]
    moved: dict[str, int]
    peak_memory: int | None


def _measure(run: _Runner, steps: int, warmup: int, progress: Callable[[str], None]) -> _Measured:
    timer = _LeafTimer(run.model, run.clock, run.training)
    progress(f"warm-up: {warmup} steps")
    for _ in range(warmup):
        run.step()
    peak_memory = _peak_memory(run)
    timer.attach()
    timer.count_elements = True
    run.step()  # one hooked step first: counts what each leaf reads and writes
    timer.count_elements = False
    timer.take()
    timer.detach()
    plain, hooked, backward = [], [], []
    forward_by_step: list[dict[str, float]] = []
    backward_by_step: list[dict[str, float]] = []
    calls: dict[str, int] = {}
    for index in range(steps):
        progress(f"step {index + 1}/{steps}")
        forward_ms, backward_ms = run.step()
        plain.append(forward_ms)
        backward.append(backward_ms)
        timer.attach()
        hooked.append(run.step()[0])
        timer.detach()
        forward, back, calls = timer.take()
        forward_by_step.append(forward)
        backward_by_step.append(back)
    types = {path: type(module).__name__ for path, module in timer.leaves}
    return _Measured(
        forward_ms=statistics.median(plain),
        forward_ms_with_hooks=statistics.median(hooked),
        backward_ms=statistics.median(backward) if run.training else None,
        leaf_forward=_medians(forward_by_step, calls),
        leaf_backward=_medians(backward_by_step, calls),
        calls=calls,
        types=types,
        moved=timer.moved,
        peak_memory=peak_memory,
    )


def _medians(by_step: list[dict[str, float]], paths) -> dict[str, float]:
    return {path: statistics.median(step.get(path, 0.0) for step in by_step) for path in paths}


def _peak_memory(run: _Runner) -> int | None:
    """Peak bytes of one step: on CUDA, torch.cuda.max_memory_allocated (cuDNN and cuBLAS
    workspaces included); on the CPU, the bytes live before the step (parameters, buffers, the
    input) plus the highest running sum of the step's allocations less frees, from
    torch.profiler's memory events (None where the profiler gives none)."""
    if run.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(run.device)
        run.step()
        return torch.cuda.max_memory_allocated(run.device)
    from torch.profiler import ProfilerActivity, profile

    before = _live_bytes([*run.model.parameters(), *run.model.buffers(), run.inputs])
    with _native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        run.step()
    try:
        events = sorted(
            (event.start_ns(), event.nbytes())
            for event in profiler.profiler.kineto_results.events()
            if event.name() == "[memory]"
        )
    except (AttributeError, RuntimeError):
        return None
    if not events:
        return None
    total, highest = 0, 0
    for _, change in events:
        total += change
        highest = max(highest, total)
    return before + highest


@contextlib.contextmanager
def _native_stderr_silenced():
    """File descriptor 2 to /dev/null: the profiler's native library logs its start, stop and
    a failed GPU count there (Python's exceptions are unaffected)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _live_bytes(tensors) -> int:
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    return sum(storages.values())


def _free(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def layer_bytes(params: int, buffers: int, activation_elements: int, itemsize: int) -> int:
    """Bytes a leaf moves per step: its weights (parameters and floating buffers) read once per
    call, plus every input tensor read and output tensor written, all at the dtype's size."""
    return (params + buffers + activation_elements) * itemsize


def _profile(request, analysis, peaks, dtype, steps, measured: _Measured, estimate, run: _Runner) -> Profile:
    itemsize = torch.empty((), dtype=dtype).element_size()
    nodes = analysis.paths
    modules = dict(run.model.named_modules())
    layers = []
    for path, calls in measured.calls.items():  # in first-call order
        module = modules[path]
        params = sum(p.numel() for p in module.parameters())
        buffers = sum(b.numel() for b in module.buffers() if b.is_floating_point())
        node = nodes.get(path)
        layers.append(
            LayerProfile(
                path=path,
                type=measured.types[path],
                calls=calls,
                forward_ms=measured.leaf_forward[path],
                backward_ms=measured.leaf_backward.get(path, 0.0) if run.training else None,
                flops=node.flops if node is not None else 0,
                bytes=layer_bytes(params * calls, buffers * calls, measured.moved.get(path, 0), itemsize),
                params=params,
            )
        )
    step_ms = measured.forward_ms + (measured.backward_ms or 0.0)
    return Profile(
        model=analysis.request.model,
        device=str(run.device),
        precision=DTYPE_NAMES[dtype],
        batch=request.batch,
        input_size=analysis.request.input_size,
        mode=request.mode,
        channels_last=request.channels_last,
        steps=steps,
        peaks=peaks,
        forward_ms=measured.forward_ms,
        forward_ms_with_hooks=measured.forward_ms_with_hooks,
        backward_ms=measured.backward_ms,
        img_per_s=request.batch / (step_ms / 1e3),
        peak_memory_bytes=measured.peak_memory,
        estimated_memory_bytes=estimate,
        layers=layers,
        autocast=run.autocast,
        params=sum(p.numel() for p in run.model.parameters()),
        clock=run.clock.name,
    )
