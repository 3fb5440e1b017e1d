"""The command line's messages name the real cause, its rules are one rule each, and its help
and the README say what the commands do (issue 21, findings 14, 15 and 16)."""

from __future__ import annotations

import argparse
import json
import pathlib
import re

import pytest
import torch
import torchvision

from cnnexplorer.cli import build_parser, main
from cnnexplorer.train.cli import resolve_train_config
from cnnexplorer.train.recipes import generic_recipe
from cnnexplorer.train.request import LaunchRequest
from cnnexplorer.zoo import get
from tests.conftest import assert_usage_error, run_cli

README = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()


def error_of(capsys, *argv: str) -> tuple[int, str]:
    """The exit code and stderr of ``cnnexplorer ARGV``, in this process (argparse's errors too)."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err.strip()


def parse_error_of(capsys, *argv: str) -> str:
    """argparse's one-line refusal of ``cnnexplorer ARGV`` (a command it takes fails the test
    without running: no training starts)."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(list(argv))
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip()


# Input sizes and batches (findings 14 and 15) ------------------------------------------------


@pytest.mark.parametrize("text", ["3x224", "224x224"])
def test_an_input_size_of_two_numbers_is_refused_naming_the_forms_taken(capsys, text):
    code, error = error_of(capsys, "summary", "resnet18", "--input", text, "--no-cache")
    assert code == 2 and len(error.splitlines()) == 1
    assert "CxHxW (3x224x224) or S for 3xSxS (224)" in error


@pytest.mark.parametrize("batch", [10**20, 10**13])
def test_a_batch_too_large_for_a_tensor_says_to_choose_a_smaller_batch(capsys, batch):
    code, error = error_of(capsys, "summary", "resnet18", "--batch", str(batch), "--no-cache")
    assert code == 2 and len(error.splitlines()) == 1
    assert f"batch {batch:,} of 3x224x224 is too large for a tensor" in error
    assert error.endswith("; choose a smaller --batch") and "--input" not in error


def test_train_at_an_image_size_too_small_names_the_least_size_the_model_runs_at(capsys, tmp_path):
    argv = ["--dataset", "fake", "--device", "cpu", "--output", str(tmp_path)]
    code, error = error_of(capsys, "train", "alexnet", *argv, "--image-size", "32")
    assert code == 2 and len(error.splitlines()) == 1
    assert "the feature map vanishes at features.12 (MaxPool2d)" in error
    assert error.endswith("the least --image-size alexnet runs at is 63") and "--input" not in error
    model = torchvision.models.alexnet().eval()  # the oracle: a real forward on the CPU
    with torch.no_grad():
        assert model(torch.randn(1, 3, 63, 63)).shape == (1, 1000)
        with pytest.raises(RuntimeError, match="too small"):
            model(torch.randn(1, 3, 62, 62))
    assert not any(tmp_path.iterdir())  # refused before a run folder is made


# One rule per number (finding 15) -----------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-0.1"])
def test_a_learning_rate_of_zero_or_less_gets_the_one_rule(capsys, value):
    error = parse_error_of(capsys, "train", "resnet20", "--dataset", "fake", "--lr", value)
    assert f"argument --lr: {value} must be more than 0" in error
    assert LaunchRequest("train", "resnet20", dataset="fake", lr=float(value)).problems()["lr"]


@pytest.mark.parametrize("flag", ["--momentum", "--label-smoothing"])
@pytest.mark.parametrize("value", ["1", "2", "-0.1"])
def test_momentum_and_label_smoothing_are_at_least_0_and_below_1(capsys, flag, value):
    error = parse_error_of(capsys, "train", "resnet20", "--dataset", "fake", flag, value)
    assert f"argument {flag}: {value} must be at least 0 and below 1" in error
    field = flag.removeprefix("--").replace("-", "_")
    assert field in LaunchRequest("train", "resnet20", dataset="fake", **{field: float(value)}).problems()


def test_a_momentum_below_1_is_taken():
    args = build_parser().parse_args(["train", "resnet20", "--dataset", "fake", "--momentum", "0.99"])
    assert resolve_train_config(args).momentum == 0.99


@pytest.mark.parametrize(
    ("epochs", "milestones", "problem"),
    [
        ("10", "5,2", "they must increase"),
        ("10", "3,3", "they must increase"),
        ("4", "2,4", "each must be from 1 to 3"),
        ("4", "0,2", "each must be from 1 to 3"),
        ("1", "1", "a run of 1 epoch has no epoch after which the lr could drop"),
        ("10", "3,6", None),
    ],
)
def test_milestones_increase_and_lie_within_the_epochs(epochs, milestones, problem):
    argv = ["train", "resnet20", "--dataset", "fake", "--schedule", "step", "--epochs", epochs]
    args = build_parser().parse_args([*argv, "--milestones", milestones])
    request = LaunchRequest(
        "train", "resnet20", dataset="fake", epochs=int(epochs), milestones=tuple(map(int, milestones.split(",")))
    )
    if problem is None:
        assert resolve_train_config(args).milestones == [3, 6]
        assert "milestones" not in request.problems()
        return
    with pytest.raises(Exception, match=re.escape(problem)):
        resolve_train_config(args)
    assert problem in request.problems()["milestones"]


# Checkpoints that cannot be evaluated (finding 15) ----------------------------------------


def test_eval_of_weights_holding_nan_is_refused_naming_a_tensor(capsys, tmp_path):
    state = get("resnet20").build().state_dict()
    state["fc.weight"][0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pt")
    code, error = error_of(capsys, "eval", "resnet20", "--dataset", "fake", "--checkpoint", str(tmp_path / "nan.pt"))
    assert code == 2 and len(error.splitlines()) == 1
    assert "1 of its tensors hold NaN or infinite values (e.g. fc.weight)" in error


def test_a_raw_pickle_as_a_checkpoint_gets_our_one_line_alone(tmp_path):
    import pickle

    (tmp_path / "raw.pkl").write_bytes(pickle.dumps({"weights": [1.0, 2.0]}, protocol=4))
    result = run_cli("eval", "resnet20", "--dataset", "fake", "--checkpoint", str(tmp_path / "raw.pkl"))
    assert_usage_error(result, "it is not a torch checkpoint")
    assert "Warning" not in result.stderr


def test_our_own_builds_print_no_torchvision_constructor_warnings():
    result = run_cli("summary", "inception_v3", "--no-cache", "--depth", "0")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


# Help and README (findings 14 and 16) -------------------------------------------------------


def test_train_and_eval_help_say_they_take_any_model(capsys):
    for command in ("train", "eval"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "architecture of the zoo" not in text and "architecture name" not in text
        assert "path/to/file.py:factory" in text and "timm:NAME" in text


def test_the_top_level_help_names_the_readmes_own_file_and_class(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    helped = capsys.readouterr().out
    shown = re.search(r"`mynet.py`:\s*```python(.*?)```", README, re.S)
    (readme_class,) = re.findall(r"^class (\w+)\(nn\.Module\)", shown.group(1), re.M)
    files = re.findall(r"\./mynet\.py:(\w+)", helped)
    assert files and set(files) == {readme_class}


def test_the_readme_states_the_generic_recipe_as_it_is():
    text = " ".join(README.split())
    found = re.search(
        r"batch (\d+) for (\d+) epochs, or batch (\d+) for (\d+) epochs when the model's input is (\d+)x", text
    )
    imagenet, cifar = generic_recipe(get("resnet18"), cifar=False), generic_recipe(get("resnet20"), cifar=True)
    assert found is not None
    assert tuple(map(int, found.groups()[:4])) == (imagenet.batch_size, imagenet.epochs, cifar.batch_size, cifar.epochs)
    assert get("resnet20").input_size[1] <= int(found.group(5)) < get("resnet18").input_size[1]


def test_every_flag_of_list_summary_diff_and_eval_is_in_the_readme():
    documented = re.sub(r"--\[no-\]([\w-]+)", r"--\1 --no-\1", README)
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("list", "summary", "diff", "eval"):
        flags = {o for a in commands.choices[name]._actions for o in a.option_strings if o.startswith("--")}
        missing = [f for f in sorted(flags - {"--help"}) if not re.search(re.escape(f) + r"(?![\w-])", documented)]
        assert not missing, f"{name}: {missing}"


def _readme_json_objects(text: str, start: str) -> list[dict]:
    """The whole JSON objects in ``text`` that begin with ``start`` (the README's example elides
    the rest of the document with ``...``)."""
    found = []
    for match in re.finditer(re.escape(start), text):
        depth = 0
        for end in range(match.start(), len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                found.append(json.loads(text[match.start() : end + 1]))
                break
    return found


def test_the_readmes_diff_json_example_is_what_the_command_prints(capsys):
    example = README.split("**JSON** (`--format json`", 1)[1].split("```", 2)[1]
    assert main(["diff", "alexnet", "alexnet-2012", "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    rows = _readme_json_objects(example, '{"status"')
    assert len(rows) >= 2
    assert rows == printed["rows"][: len(rows)]
    (counts,) = _readme_json_objects(example, '{"same"')
    assert counts == printed["leaf_counts"]
    (params,) = _readme_json_objects(example, '{"left": 61100840')
    assert params == printed["totals"]["params"]
