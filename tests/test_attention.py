"""The analysis pass's attention (analysis/attention.py) answers only the thread that runs the
pass: another thread calling ``F.scaled_dot_product_attention`` meanwhile (the app's torchinfo
worker runs meta forwards outside the engine's lock) gets PyTorch's own behaviour."""

import threading

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from cnnexplorer.analysis.attention import cpu_attention


class AtenOps(TorchDispatchMode):
    """The aten ops a call runs (a dispatch mode is per thread: it sees its own thread only)."""

    def __init__(self):
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(func.__name__.split(".")[0])
        return func(*args, **(kwargs or {}))


def attention_ops() -> set[str]:
    query = torch.empty(2, 4, 64, 16, device="meta", requires_grad=True)
    with AtenOps() as mode:
        F.scaled_dot_product_attention(query, query, query)
    return mode.ops


def test_attention_is_swapped_only_in_the_thread_of_the_pass():
    original = attention_ops()  # the oracle: PyTorch's own, outside any pass
    assert "_scaled_dot_product_flash_attention_for_cpu" not in original  # meta decomposes to the math kernel
    in_other_thread: list[set[str]] = []
    with cpu_attention():
        other = threading.Thread(target=lambda: in_other_thread.append(attention_ops()))
        other.start()
        other.join()
        in_pass = attention_ops()
    assert in_other_thread == [original]
    assert "_scaled_dot_product_flash_attention_for_cpu" in in_pass  # the CPU's kernel, in the pass's thread
