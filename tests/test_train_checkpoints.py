"""Checkpoints: round trip, atomic writes, weights-only loading, prefix stripping."""

import pickle
import subprocess
import sys
import time

import pytest
import torch

from cnnexplorer import zoo
from cnnexplorer.errors import UsageError
from cnnexplorer.train import checkpoints


def _model():
    torch.manual_seed(0)
    return zoo.get("resnet20").build(num_classes=4)


def test_round_trip_keeps_every_tensor_and_value(tmp_path):
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    optimizer.step()
    state = {
        "format": checkpoints.FORMAT,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": 3,
        "rng": checkpoints.capture_rng_state(),
        "config": {"lr": 0.1, "milestones": [1, 2]},
    }
    path = tmp_path / "last.pt"
    checkpoints.save_checkpoint(path, state)
    loaded = checkpoints.load_checkpoint(path)
    assert loaded["epoch"] == 3 and loaded["config"] == {"lr": 0.1, "milestones": [1, 2]}
    for key, tensor in model.state_dict().items():
        assert torch.equal(loaded["model"][key], tensor)
    momentum = optimizer.state_dict()["state"][0]["momentum_buffer"]
    assert torch.equal(loaded["optimizer"]["state"][0]["momentum_buffer"], momentum)
    # The RNG state comes back: the same random numbers follow.
    checkpoints.restore_rng_state(loaded["rng"])
    first = torch.rand(3)
    checkpoints.restore_rng_state(loaded["rng"])
    assert torch.equal(torch.rand(3), first)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left


def test_ddp_and_compile_prefixes_are_stripped():
    state = {
        "module.conv.weight": torch.ones(1),
        "module._orig_mod.fc.bias": torch.zeros(1),
        "fc.weight": torch.ones(1),
    }
    assert list(checkpoints.strip_wrapper_prefixes(state)) == ["conv.weight", "fc.bias", "fc.weight"]
    model = _model()
    wrapped = {f"module.{k}": v for k, v in model.state_dict().items()}
    fresh = zoo.get("resnet20").build(num_classes=4)
    checkpoints.load_model_weights(fresh, checkpoints.model_state_of(wrapped, "x"), "x")
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path):
    path = tmp_path / "last.pt"
    checkpoints.save_checkpoint(path, {"model": {"w": torch.ones(3)}, "epoch": 1})
    # torch.save fails half-way: a lambda cannot be pickled, after the tensor was written.
    with pytest.raises((pickle.PicklingError, AttributeError)):  # as pickle reports a local lambda
        checkpoints.save_checkpoint(path, {"model": {"w": torch.full((1000,), 2.0)}, "bad": lambda: None})
    assert checkpoints.load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_a_process_killed_mid_write_leaves_the_previous_file_whole(tmp_path):
    path = tmp_path / "last.pt"
    checkpoints.save_checkpoint(path, {"model": {"w": torch.ones(3)}, "epoch": 1})
    writer = (
        "import sys, torch; from pathlib import Path; from cnnexplorer.train.checkpoints import save_checkpoint\n"
        "big = {'model': {f'w{i}': torch.ones(4_000_000) for i in range(40)}, 'epoch': 2}\n"
        "print('writing', flush=True)\n"
        "while True: save_checkpoint(Path(sys.argv[1]), big)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", writer, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".last.pt.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.005)
    process.kill()
    process.wait()
    loaded = checkpoints.load_checkpoint(path)  # whole: the old one, or a complete new one
    assert loaded["epoch"] in (1, 2)
    if loaded["epoch"] == 2:
        assert len(loaded["model"]) == 40


def test_non_finite_weights_are_never_written(tmp_path):
    path = tmp_path / "best.pt"
    checkpoints.save_checkpoint(path, {"model": {"w": torch.ones(2)}, "epoch": 1})
    with pytest.raises(checkpoints.NonFiniteWeightsError):
        checkpoints.save_checkpoint(path, {"model": {"w": torch.tensor([1.0, float("nan")])}, "epoch": 2})
    assert checkpoints.load_checkpoint(path)["epoch"] == 1


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_pickle_payload_is_refused_with_a_clear_error(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.ones(1)}, "extra": Payload()}, path)
    with pytest.raises(UsageError, match=r"pickled Python object \(print\)"):
        checkpoints.load_checkpoint(path)
    assert "must never run" not in capsys.readouterr().out


def test_missing_and_damaged_files_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        checkpoints.load_checkpoint(tmp_path / "nope.pt")
    good = tmp_path / "good.pt"
    torch.save({"w": torch.ones(1000)}, good)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(UsageError, match="cannot read checkpoint"):
        checkpoints.load_checkpoint(cut)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(UsageError, match="cannot read checkpoint"):
        checkpoints.load_checkpoint(junk)


def test_a_state_dict_of_another_model_is_refused():
    other = zoo.get("resnet32").build(num_classes=4).state_dict()
    with pytest.raises(UsageError, match="does not fit"):
        checkpoints.load_model_weights(_model(), other, "other.pt")
    wrong_classes = zoo.get("resnet20").build(num_classes=10).state_dict()
    with pytest.raises(UsageError, match="size mismatch"):
        checkpoints.load_model_weights(_model(), wrong_classes, "ten.pt")


def _recorded_config() -> dict:
    """A config.json as a run writes it."""
    return {
        "model": "resnet20",
        "dataset": "fake",
        "data": None,
        "image_size": 32,
        "num_classes": 10,
        "epochs": 2,
        "batch_size": 16,
        "optimizer": "sgd",
        "lr": 0.1,
        "momentum": 0.9,
        "nesterov": False,
        "weight_decay": 1e-4,
        "schedule": "step",
        "milestones": [1],
        "gamma": 0.1,
        "plateau_patience": 2,
        "warmup_epochs": 0.0,
        "label_smoothing": 0.0,
        "aux_weight": 0.0,
        "seed": 0,
        "deterministic": True,
        "precision": "fp32",
        "channels_last": False,
        "compile": False,
        "workers": 0,
        "max_steps": None,
        "log_every": 10,
        "fake_size": 32,
        "download": False,
        "recipe": "test",
        "run_dir": "runs/x",
        "world_size": 1,
        "decode": "cpu",
    }


@pytest.mark.parametrize(
    ("entry", "value", "needle"),
    [
        ("epochs", True, "Expected `int`, got `bool` - at `$.epochs`"),
        ("epochs", 2.0, "Expected `int`, got `float`"),
        ("nesterov", 0, "Expected `bool`, got `int`"),
        ("milestones", [1, True], "at `$.milestones[1]`"),
        ("lr", float("nan"), "lr is nan, not a finite number"),
        ("gamma", float("inf"), "gamma is inf, not a finite number"),
        ("lr", "0.1", "Expected `float`, got `str`"),
        ("optimizer", "lion", "optimizer is 'lion', not one of"),
        ("precision", "auto", "precision is 'auto', not one of"),
        ("batch_size", 0, "batch_size is 0, below 1"),
        ("model", None, "Expected `str`, got `null`"),
    ],
)
def test_a_recorded_config_is_checked_entry_by_entry(entry, value, needle):
    from cnnexplorer.train.config import TrainConfig

    with pytest.raises(ValueError, match="^its config") as raised:
        TrainConfig.from_dict({**_recorded_config(), entry: value})
    assert needle in str(raised.value)


def test_a_recorded_config_loads_as_it_was_written_and_is_frozen():
    import dataclasses

    from cnnexplorer.train.config import TrainConfig

    recorded = _recorded_config()
    config = TrainConfig.from_dict({**recorded, "lr": 1, "unknown": "ignored"})
    assert config.as_dict() == {**recorded, "lr": 1.0}
    with pytest.raises(ValueError, match="its config: Object missing required field `seed`"):
        TrainConfig.from_dict({k: v for k, v in recorded.items() if k != "seed"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 0.2
