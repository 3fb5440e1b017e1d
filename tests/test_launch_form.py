"""The train/eval launch form: focus, keys, dataset choices by model, known checkpoints, and the
launch requests behind it (train/form.py, train/request.py). Snapshots under snapshots/test_launch_form/."""

import shutil
from pathlib import Path

import pytest
from textual.widgets._select import SelectOverlay

from cnnexplorer.app import make_app
from cnnexplorer.app.screens.launch_form import LaunchForm
from cnnexplorer.runs.jobs import Job, known_checkpoints
from cnnexplorer.train.form import field_problems
from cnnexplorer.train.request import dataset_choices
from tests.conftest import settle
from tests.test_jobs import child_argv, form_request

RUNS = Path(__file__).parent / "data" / "runs"
SIZE = (80, 24)


def _app(shared_cache, model="resnet20", runs_dir=RUNS):
    return make_app(model, cache=shared_cache, zoo_stats=False, runs_dir=runs_dir)


def _recording_launches(app) -> list[list[str]]:
    """Record the command line of each request the form launches instead of starting a process."""
    launched: list[list[str]] = []
    app.launch = lambda request: launched.append(Job(request).argv)
    return launched


def _runs_with_a_checkpoint(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    shutil.copytree(RUNS / "finished-resnet20", runs / "20250101-120000-resnet20")
    (runs / "20250101-120000-resnet20" / "best.pt").write_bytes(b"")
    return runs


async def _open(pilot, key: str = "t") -> LaunchForm:
    await settle(pilot)
    await pilot.press(key)
    await pilot.pause()
    assert isinstance(pilot.app.screen, LaunchForm)
    return pilot.app.screen


async def test_the_form_opens_with_its_first_field_focused(shared_cache):
    app = _app(shared_cache)
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot)
        assert app.focused.id == "field-dataset"


async def test_enter_moves_to_the_next_field_and_never_launches(shared_cache):
    app = _app(shared_cache)
    launched = _recording_launches(app)
    async with app.run_test(size=SIZE) as pilot:
        form = await _open(pilot)
        await pilot.press("tab")  # synthetic data: the folder and the download box are off
        assert app.focused.id == "field-epochs"
        visited = []
        for _ in range(3):
            await pilot.press("enter")
            visited.append(app.focused.id)
        assert visited == ["field-batch_size", "field-lr", "field-optimizer"]
        assert app.screen is form and launched == [] and app.jobs == []


async def test_the_launch_key_launches_the_command_shown(shared_cache):
    app = _app(shared_cache)
    launched = _recording_launches(app)
    async with app.run_test(size=SIZE) as pilot:
        form = await _open(pilot)
        await pilot.press("tab", "end", "ctrl+u", "2")  # epochs: 2
        preview = str(form.query_one("#command-preview").render())
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is not form
        [argv] = launched
        assert argv[3:5] == ["train", "resnet20"]
        assert " ".join(argv[argv.index("--dataset") :]).startswith("--dataset fake")
        assert argv[argv.index("--epochs") + 1] == "2"
        assert "--epochs 2" in preview


async def test_escape_cancels(shared_cache):
    app = _app(shared_cache)
    launched = _recording_launches(app)
    async with app.run_test(size=SIZE) as pilot:
        form = await _open(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is not form and launched == []


async def test_a_bad_field_is_named_inline_and_focused(shared_cache):
    app = _app(shared_cache)
    launched = _recording_launches(app)
    async with app.run_test(size=SIZE) as pilot:
        form = await _open(pilot)
        await pilot.press("tab", "end", "ctrl+u", "0", "tab", "tab")  # epochs 0, then on to the lr
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form and launched == []
        error = form.query_one("#error-epochs")
        assert error.display and "whole number" in str(error.render())
        assert not form.query_one("#error-batch_size").display
        assert app.focused.id == "field-epochs"


async def _dataset_options(pilot, form: LaunchForm) -> list[str]:
    """The dataset choices as the open dropdown lists them (left open)."""
    await pilot.press("enter")  # the focused dataset select opens
    await pilot.pause()
    options = form.query_one(SelectOverlay)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_a_cifar_model_offers_cifar_and_launches_with_its_folder(shared_cache, tmp_path):
    app = _app(shared_cache)
    launched = _recording_launches(app)
    async with app.run_test(size=SIZE) as pilot:
        form = await _open(pilot)
        offered = await _dataset_options(pilot, form)
        assert offered == ["ImageFolder tree (train/, val/)", "CIFAR-10", "CIFAR-100", "synthetic images"]
        await pilot.press("up", "up", "enter")  # from synthetic up to CIFAR-10
        await pilot.press("tab", *str(tmp_path / "cifar"), "tab", "space", "ctrl+s")
        await pilot.pause()
        [argv] = launched
        joined = " ".join(argv)
        assert f"--dataset cifar10 --data {tmp_path / 'cifar'} --download" in joined


async def test_an_imagenet_model_offers_no_cifar(shared_cache):
    app = _app(shared_cache, model="resnet50")
    async with app.run_test(size=SIZE) as pilot:
        form = await _open(pilot)
        assert await _dataset_options(pilot, form) == ["ImageFolder tree (train/, val/)", "synthetic images"]
        assert not form.query("#field-download")


async def test_the_eval_form_offers_the_checkpoints_found(shared_cache, tmp_path):
    runs = _runs_with_a_checkpoint(tmp_path)
    best = runs / "20250101-120000-resnet20" / "best.pt"
    app = _app(shared_cache, runs_dir=runs)
    launched = _recording_launches(app)
    async with app.run_test(size=SIZE) as pilot:
        form = await _open(pilot, "e")
        assert app.focused.id == "known-checkpoints"
        assert form.query_one("#known-checkpoints").value == str(best)
        assert form.query_one("#field-checkpoint").value == str(best)
        await pilot.press("ctrl+s")
        await pilot.pause()
        [argv] = launched
        assert argv[3] == "eval" and argv[argv.index("--checkpoint") + 1] == str(best)


async def test_the_eval_form_without_checkpoints_takes_a_path(shared_cache, tmp_path):
    app = _app(shared_cache, runs_dir=tmp_path / "runs")
    launched = _recording_launches(app)
    async with app.run_test(size=SIZE) as pilot:
        form = await _open(pilot, "e")
        assert form.query_one("#known-checkpoints").disabled
        assert app.focused.id == "field-checkpoint"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert launched == [] and "last.pt/best.pt" in str(form.query_one("#error-checkpoint").render())


# The launch requests (train/form.py, train/request.py).


def test_dataset_choices_are_the_clis_that_suit_the_model():
    from cnnexplorer.train.choices import DATASETS

    for cifar_model in ("resnet20", "wrn-28-10", "densenet-bc-100"):
        assert dataset_choices(cifar_model) == DATASETS
    for imagenet_model in ("resnet50", "alexnet-2012", "vgg16"):
        assert dataset_choices(imagenet_model) == ("imagefolder", "fake")


def test_known_checkpoints_are_the_models_best_and_last(tmp_path):
    runs = _runs_with_a_checkpoint(tmp_path)
    run = runs / "20250101-120000-resnet20"
    (run / "last.pt").write_bytes(b"")
    assert known_checkpoints(runs, "resnet20") == [run / "best.pt", run / "last.pt"]
    assert known_checkpoints(runs, "resnet32") == []
    assert known_checkpoints(tmp_path / "nowhere", "resnet20") == []


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"model": "resnet50", "dataset": "cifar10", "data": "x"}, "dataset", "resnet50 takes imagefolder, fake"),
        ({"dataset": "cifar10"}, "data", "a folder for the CIFAR files"),
        ({"dataset": "cifar100", "data": "/no/such"}, "data", "tick download"),
        ({"dataset": "imagefolder"}, "data", "an ImageFolder root"),
    ],
)
def test_each_dataset_asks_for_its_own_folder(fields, field, words):
    assert words in field_problems(form_request(**fields))[field]


def test_every_dataset_makes_a_command_line_the_cli_takes(tmp_path):
    from cnnexplorer.cli import build_parser

    (tmp_path / "train").mkdir()
    requests = [
        form_request(dataset="cifar10", data=str(tmp_path / "new"), download=True),
        form_request(dataset="cifar100", data=str(tmp_path)),
        form_request(dataset="imagefolder", data=str(tmp_path)),
        form_request(dataset="fake", data="left over", download=True),
    ]
    datasets = []
    for request in requests:
        assert field_problems(request) == {}
        args = build_parser().parse_args(child_argv(request))
        datasets.append((args.dataset, args.data, args.download))
    assert datasets == [
        ("cifar10", str(tmp_path / "new"), True),
        ("cifar100", str(tmp_path), False),
        (None, str(tmp_path), False),  # the CLI's default with --data
        ("fake", None, False),
    ]


async def _choose_and_launch(shared_cache, field: str, flag: str) -> tuple[str, list[str]]:
    """Open the form; ``field`` starts at auto, with no ``flag`` in the command preview; pick the
    choice two below auto with keys, and launch. The preview before launching, and the command."""
    app = _app(shared_cache)
    launched = _recording_launches(app)
    async with app.run_test(size=(120, 40)) as pilot:
        form = await _open(pilot)
        choice = form.query_one(f"#field-{field}")
        assert choice.value == "auto"
        assert flag not in str(form.query_one("#command-preview").render())
        choice.focus()
        await pilot.press("enter", "down", "down", "enter")
        await pilot.pause()
        preview = str(form.query_one("#command-preview").render())
        await pilot.press("ctrl+s")
        await pilot.pause()
    [argv] = launched
    return preview, argv


async def test_precision_is_auto_by_default_and_a_choice_becomes_its_flag(shared_cache):
    preview, argv = await _choose_and_launch(shared_cache, "precision", "--precision")  # auto -> fp32 -> bf16
    assert "--precision bf16" in preview
    assert argv[argv.index("--precision") + 1] == "bf16" and "--amp" not in argv


def test_each_precision_is_a_command_line_the_cli_takes():
    from cnnexplorer.cli import build_parser

    for precision in ("auto", "fp32", "bf16", "fp16"):
        request = form_request(precision=precision)
        assert field_problems(request) == {}
        args = build_parser().parse_args(child_argv(request))
        assert args.precision == (None if precision == "auto" else precision)
    assert "invalid choice" in field_problems(form_request(precision="fp8"))["precision"]


async def test_channels_last_is_auto_by_default_and_can_be_forced_off(shared_cache):
    preview, argv = await _choose_and_launch(shared_cache, "channels_last", "channels-last")  # auto -> on -> off
    assert "--no-channels-last" in preview
    assert "--no-channels-last" in argv and "--channels-last" not in argv


def test_each_memory_format_is_a_command_line_the_cli_takes():
    from cnnexplorer.cli import build_parser

    train = {"auto": None, "on": True, "off": False}  # None: the command's default (on with bf16 on a GPU)
    for choice in ("auto", "on", "off"):
        args = build_parser().parse_args(child_argv(form_request(channels_last=choice)))
        assert args.channels_last is train[choice]
        evaluation = form_request(kind="eval", channels_last=choice, checkpoint="x.pt")
        assert build_parser().parse_args(child_argv(evaluation)).channels_last is (choice == "on")  # eval: off


# Snapshots of the train form for resnet20 (the explorer behind it).


def _open_train_form(pilot):
    return _open(pilot, "t")


def test_train_form_at_80x24(snap_compare, shared_cache):
    assert snap_compare(_app(shared_cache), terminal_size=(80, 24), run_before=_open_train_form)


def test_train_form_at_120x40(snap_compare, shared_cache):
    assert snap_compare(_app(shared_cache), terminal_size=(120, 40), run_before=_open_train_form)


def test_train_form_at_200x60(snap_compare, shared_cache):
    assert snap_compare(_app(shared_cache), terminal_size=(200, 60), run_before=_open_train_form)
