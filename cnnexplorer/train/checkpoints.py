"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)`` only.

A training checkpoint is a dict of plain tensors and Python values::

    {"format": "cnnexplorer-checkpoint", "version": 1, "model": state_dict,
     "optimizer": ..., "scheduler": ..., "scaler": ..., "epoch": completed epochs,
     "epoch_step": steps done in the next epoch, "step": optimizer steps in all,
     "best_top1": ..., "best_epoch": ..., "rng": {...}, "config": {...}}

Plain ``state_dict`` files (torchvision's, or ``torch.save(model.state_dict())``) load too.
"""

from __future__ import annotations

import math
import pickle
import random
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from cnnexplorer.errors import UsageError
from cnnexplorer.runs.atomic import remove_stale_temp_files, write_atomic
from cnnexplorer.runs.safe_read import NotRegularFileError, open_regular

FORMAT = "cnnexplorer-checkpoint"
VERSION = 1
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # DDP, torch.compile


class NonFiniteWeightsError(RuntimeError):
    """Refusal to write a checkpoint whose model holds NaN or infinite values."""


def save_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    """Write ``checkpoint`` to ``path`` atomically: a temporary file in the same directory,
    flushed to disk, then renamed over ``path``. A crash at any point leaves the previous
    file whole. Refuses (NonFiniteWeightsError) model weights that are not finite."""
    bad = non_finite_tensors(checkpoint.get("model", {}))
    if bad:
        raise NonFiniteWeightsError(f"not writing {path}: non-finite values in {', '.join(bad[:3])}")
    path = Path(path)
    remove_stale_temp_files(path)
    write_atomic(path, lambda stream: torch.save(checkpoint, stream))


def non_finite_tensors(state: dict[str, torch.Tensor]) -> list[str]:
    """The names of a state_dict's floating-point tensors that hold NaN or infinite values."""
    return [name for name, tensor in state.items() if tensor.is_floating_point() and not torch.isfinite(tensor).all()]


_PASS_A_CHECKPOINT = "pass the path of a .pt file written by `cnnexplorer train` or torch.save"


def load_checkpoint(path: Path | str) -> Any:
    """Load a checkpoint or state_dict file onto the CPU with ``weights_only=True``.

    Raises UsageError, in one line, for a missing file, a file that is not a torch
    checkpoint, or one that carries a pickled object (which is never executed)."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"checkpoint {path} is a folder: pass a .pt file in it (its last.pt or best.pt)")
    if not path.exists():
        raise UsageError(f"checkpoint {path} does not exist: {_PASS_A_CHECKPOINT}")
    try:
        with open_regular(path) as stream, warnings.catch_warnings():  # a pipe or a device is refused, not waited on
            # A raw pickle is refused below in one line: torch's warning about its protocol goes unsaid.
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(stream, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        if found is None:
            raise UsageError(
                f"cannot read checkpoint {path}: it is not a torch checkpoint (or it is damaged)"
            ) from None
        raise UsageError(
            f"refusing {path}: it carries a pickled Python object ({found.group(1)}) and is only loaded "
            "weights-only, so that no code in it runs; re-save just the tensors, e.g. torch.save(model.state_dict(), "
            "PATH)"
        ) from None
    except NotRegularFileError as error:  # a device, a named pipe
        raise UsageError(f"cannot read checkpoint {path}: {error.strerror}; {_PASS_A_CHECKPOINT}") from None
    except OSError as error:
        raise UsageError(f"cannot read checkpoint {path}: {error.strerror or error}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, TypeError, KeyError, AttributeError) as error:
        message = str(error).strip().split(". ")[0].splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(f"cannot read checkpoint {path}: {message} (is it a torch checkpoint, and whole?)") from None


def recorded_best(path: Path) -> tuple[float, int] | None:
    """The val top-1 and epoch a best.pt holds; None when there is no readable training
    checkpoint at ``path`` (or its figures are not a finite top-1 and a positive epoch)."""
    try:
        saved = load_checkpoint(path)
    except UsageError:
        return None
    if not is_training_checkpoint(saved):
        return None
    top1, epoch = saved.get("best_top1"), saved.get("best_epoch")
    if isinstance(top1, bool) or not isinstance(top1, (int, float)) or not math.isfinite(top1) or top1 < 0:
        return None
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        return None
    return float(top1), epoch


# The entries of a training checkpoint and their types (what --resume reads).
_TRAINING_ENTRIES: dict[str, tuple[type, ...]] = {
    "model": (dict,),
    "optimizer": (dict,),
    "scheduler": (dict,),
    "scaler": (dict,),
    "epoch": (int,),
    "epoch_step": (int,),
    "step": (int,),
    "best_top1": (int, float),
    "best_epoch": (int,),
    "rng": (dict,),
    "config": (dict,),
}


def is_training_checkpoint(loaded: Any) -> bool:
    """True for a file that says it is a training checkpoint of ``cnnexplorer train``."""
    return isinstance(loaded, dict) and loaded.get("format") == FORMAT


def check_training_checkpoint(saved: Any, path: Path | str) -> None:
    """A one-line UsageError unless ``saved`` is a whole training checkpoint: every entry
    there with its type, whole positions, weights as tensors, RNG states and a config."""
    if not is_training_checkpoint(saved):
        raise UsageError(f"{path} is not a training checkpoint of `cnnexplorer train`: --resume needs a last.pt")
    missing = [name for name in _TRAINING_ENTRIES if name not in saved]
    wrong = [
        name
        for name, types in _TRAINING_ENTRIES.items()
        if name in saved and (not isinstance(saved[name], types) or isinstance(saved[name], bool))
    ]
    if not missing and not wrong:
        wrong += [name for name in ("epoch", "epoch_step", "step", "best_epoch") if saved[name] < 0]
        if not all(isinstance(key, str) and isinstance(v, torch.Tensor) for key, v in saved["model"].items()):
            wrong.append("model")
        rng = saved["rng"]
        if not isinstance(rng.get("python"), (list, tuple)) or not isinstance(rng.get("torch"), torch.Tensor):
            wrong.append("rng")
    problems = []
    if missing:
        problems.append(f"no {', '.join(missing)}")
    if wrong:
        problems.append(f"a damaged {', '.join(wrong)}")
    if problems:
        raise UsageError(
            f"{path} is not a whole training checkpoint ({'; '.join(problems)}): resume from another one, "
            "or start a new run"
        )


def strip_wrapper_prefixes(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Remove DDP's ``module.`` and torch.compile's ``_orig_mod.`` key prefixes."""
    cleaned = {}
    for key, value in state_dict.items():
        changed = True
        while changed:
            changed = False
            for prefix in _WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key = key[len(prefix) :]
                    changed = True
        cleaned[key] = value
    return cleaned


def model_state_of(loaded: Any, path: Path | str) -> dict[str, torch.Tensor]:
    """The model's state_dict inside a loaded file: a training checkpoint's ``model``,
    a ``{"state_dict": ...}`` wrapper, or a plain state_dict; prefixes stripped."""
    if isinstance(loaded, dict) and isinstance(loaded.get("model"), dict):
        state = loaded["model"]
    elif isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        state = loaded["state_dict"]
    else:
        state = loaded
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UsageError(
            f"{path} holds no model state_dict (expected a dict of tensors, or a checkpoint with a 'model' entry)"
        )
    return strip_wrapper_prefixes(state)


def load_model_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path | str) -> None:
    """Load ``state`` into ``model`` strictly; a mismatch is a one-line UsageError."""
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as error:
        detail = next(
            (line.strip() for line in str(error).splitlines() if "size mismatch" in line), str(error).splitlines()[0]
        )
        raise UsageError(
            f"{path} does not fit this model: {detail.rstrip('.')}; is it the right architecture and class count?"
        ) from None
    problems = []
    if result.missing_keys:
        problems.append(f"{len(result.missing_keys)} missing (e.g. {result.missing_keys[0]})")
    if result.unexpected_keys:
        problems.append(f"{len(result.unexpected_keys)} unexpected (e.g. {result.unexpected_keys[0]})")
    if problems:
        raise UsageError(f"{path} does not fit this model: {'; '.join(problems)} keys; is it the right architecture?")


def capture_rng_state() -> dict[str, Any]:
    """Python's and torch's random states (CPU and every CUDA device)."""
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_as_tuples(state["python"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuples(value: Any) -> Any:
    """random.setstate wants tuples all the way down."""
    return tuple(_as_tuples(item) for item in value) if isinstance(value, (list, tuple)) else value
