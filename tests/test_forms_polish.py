"""The launch forms, polished (issue 24, item 11): an open choice is framed and on a shade of
its own; the eval form offers torchvision's weights, never previews an empty flag and shows no
training recipe; a launch's values come back in the next form, each validated as a typed one
(a tampered settings file is ignored). Snapshots of a form with its dropdown open."""

import json
from pathlib import Path
from urllib.parse import urlparse

import pytest
from textual.widgets._select import SelectOverlay

from cnnexplorer import zoo
from cnnexplorer.app import make_app
from cnnexplorer.app.screens.launch_form import LaunchForm
from cnnexplorer.cli import build_parser
from cnnexplorer.runs.jobs import Job
from cnnexplorer.settings import load_settings, settings_path
from cnnexplorer.train.form import new_request
from cnnexplorer.train.recipes import recipe_for
from tests.conftest import settle

SIZE = (80, 24)


def _app(shared_cache, model="resnet20", runs_dir=Path("no-runs")):
    return make_app(model, cache=shared_cache, zoo_stats=False, runs_dir=runs_dir)


def _recording_launches(app) -> list[list[str]]:
    """The argv after ``python -m cnnexplorer`` of each request launched (no process starts)."""
    launched: list[list[str]] = []
    app.launch = lambda request: launched.append(Job(request).argv[3:])
    return launched


async def _open(pilot, key: str) -> LaunchForm:
    await settle(pilot)
    await pilot.press(key)
    await pilot.pause()
    assert isinstance(pilot.app.screen, LaunchForm)
    return pilot.app.screen


def _preview(form: LaunchForm) -> str:
    return str(form.query_one("#command-preview").render())


def _cell(app, x: int, y: int):
    """The character and style drawn at (x, y) of the screen."""
    column = 0
    for segment in app.screen._compositor.render_strips()[y]:
        if column + segment.cell_length > x:
            return segment.text[x - column], segment.style
        column += segment.cell_length
    raise IndexError((x, y))


def _luminance(color) -> float:
    """WCAG 2 relative luminance of a rendered colour."""

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = color.get_truecolor()
    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def _contrast(first, second) -> float:
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


async def test_an_open_choice_is_framed_and_on_a_shade_of_its_own(shared_cache):
    app = _app(shared_cache)
    async with app.run_test(size=SIZE) as pilot:
        form = await _open(pilot, "t")
        await pilot.press("enter")  # the focused dataset choice opens
        await pilot.pause()
        overlay = form.query_one("#field-dataset").query_one(SelectOverlay)
        box = overlay.region
        corners = [_cell(app, x, y)[0] for x, y in ((box.x, box.y), (box.right - 1, box.bottom - 1))]
        assert corners == ["╭", "╯"]
        first_option = "".join(_cell(app, x, box.y + 1)[0] for x in range(box.x + 1, box.right - 1))
        assert first_option.strip() == "ImageFolder tree (train/, val/)"
        option_background = _cell(app, box.x + 2, box.y + 1)[1].bgcolor  # not the highlighted option
        seed_label = form.query_one("#field-seed").parent.region  # a row below, outside the overlay
        form_background = _cell(app, seed_label.x, seed_label.y)[1].bgcolor
        assert _contrast(option_background, form_background) >= 1.4
        border = _cell(app, box.x, box.y)[1].color
        assert _contrast(border, form_background) >= 3


async def test_the_eval_form_offers_torchvision_weights(shared_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache
    app = _app(shared_cache, model="alexnet")
    launched = _recording_launches(app)
    async with app.run_test(size=SIZE) as pilot:
        form = await _open(pilot, "e")
        assert app.focused.id == "field-weights"
        await pilot.press("enter")
        await pilot.pause()
        overlay = form.query_one("#field-weights").query_one(SelectOverlay)
        offered = [str(overlay.get_option_at_index(i).prompt) for i in range(overlay.option_count)]
        assert offered == ["none: a checkpoint (below)", "IMAGENET1K_V1 · top-1 56.52% · not cached"]
        await pilot.press("down", "enter")
        await pilot.pause()
        assert "--weights IMAGENET1K_V1" in _preview(form) and "--checkpoint" not in _preview(form)
        assert form.query_one("#field-checkpoint").disabled
        await pilot.press("ctrl+s")  # not in the hub cache, and no download: named, not launched
        await pilot.pause()
        assert launched == [] and "tick Download" in str(form.query_one("#error-weights").render())
        await pilot.press("tab", "tab")  # the dataset, then the download box (the checkpoint and folder are off)
        assert app.focused.id == "field-download"
        await pilot.press("space", "ctrl+s")
        await pilot.pause()
    [argv] = launched
    args = build_parser().parse_args(argv)
    assert argv[:2] == ["eval", "alexnet"]
    assert (args.weights, args.checkpoint, args.download) == ("IMAGENET1K_V1", None, True)


def test_weights_in_the_hub_cache_are_found_where_torch_hub_keeps_them(tmp_path, monkeypatch):
    from torchvision.models import get_model_weights

    from cnnexplorer.train.eval_command import weights_not_downloaded

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    arch = zoo.get("resnet50")
    assert weights_not_downloaded(arch) == {"IMAGENET1K_V1", "IMAGENET1K_V2"}
    url = get_model_weights("resnet50").IMAGENET1K_V2.url  # torch.hub: <hub>/checkpoints/<the url's file name>
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / Path(urlparse(url).path).name).write_bytes(b"")
    assert weights_not_downloaded(arch) == {"IMAGENET1K_V1"}
    assert weights_not_downloaded(zoo.get("resnet20")) == set()


async def test_the_eval_form_shows_no_recipe_and_previews_no_empty_checkpoint(shared_cache):
    app = _app(shared_cache)
    launched = _recording_launches(app)
    async with app.run_test(size=SIZE) as pilot:
        form = await _open(pilot, "e")
        assert not any("recipe" in str(hint.render()) for hint in form.query(".hint"))
        assert "--checkpoint" not in _preview(form)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert launched == [] and "last.pt/best.pt" in str(form.query_one("#error-checkpoint").render())
        await pilot.press("escape", "t")
        await pilot.pause()
        assert any("He et al. 2015" in str(hint.render()) for hint in app.screen.query(".hint"))


async def _type(pilot, *text: str) -> None:
    """Replace the focused field's text."""
    await pilot.press("end", "ctrl+u", *text)


async def test_a_launch_is_remembered_and_the_next_form_opens_with_its_values(shared_cache):
    app = _app(shared_cache)
    launched = _recording_launches(app)
    async with app.run_test(size=SIZE) as pilot:
        form = await _open(pilot, "t")
        await pilot.press("tab")  # epochs
        await _type(pilot, "2")
        await pilot.press("tab", "tab", "tab", "tab", "tab")  # batch, lr, optimizer, max steps, seed
        assert app.focused.id == "field-seed"
        await _type(pilot, "7")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is not form and len(launched) == 1
        form = await _open(pilot, "t")
        assert (form.query_one("#field-epochs").value, form.query_one("#field-seed").value) == ("2", "7")
        assert "--epochs 2" in _preview(form) and "--seed 7" in _preview(form)
    stored = load_settings().train_form
    assert (stored["model"], stored["epochs"], stored["seed"]) == ("resnet20", "2", "7")
    assert load_settings().eval_form == {}


def test_a_recipes_numbers_come_back_for_their_model_only():
    from cnnexplorer.train.form import remembered_values

    stored = {"model": "resnet20", "epochs": "2", "optimizer": "adamw", "seed": "7", "dataset": "cifar10"}
    choices = {"dataset": ["imagefolder", "fake"], "optimizer": ["sgd", "adamw"]}  # alexnet's (no CIFAR)
    alexnet = new_request("train", "alexnet", recipe_for(zoo.get("alexnet")), "cpu", "runs")
    values = remembered_values(alexnet, stored, choices)
    assert (values["epochs"], values["optimizer"], values["seed"]) == (str(alexnet.epochs), "sgd", "7")
    assert values["dataset"] == "fake"  # not one of alexnet's choices: the form's own


async def test_a_tampered_settings_file_is_ignored_value_by_value(shared_cache, tmp_path):
    tampered = {
        "model": "resnet20",
        "epochs": "0",  # what a typed 0 is: a problem
        "batch_size": "12",  # fine: kept
        "lr": "1e9",
        "seed": "-1",
        "device": "cuda:9",  # not a choice here
        "precision": "fp8",
        "dataset": "imagefolder",
        "data": str(tmp_path / "gone"),
        "download": "yes",
        "output": " ",
        "max_steps": "3",  # fine: kept
        "run_dir": "/etc",  # no such field
    }
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text(json.dumps({"train_form": tampered}))
    app = _app(shared_cache)
    async with app.run_test(size=SIZE) as pilot:
        form = await _open(pilot, "t")
        shown = {name: form.query_one(f"#field-{name}").value for name in tampered if form.query(f"#field-{name}")}
    assert shown == {
        "epochs": "164",
        "batch_size": "12",
        "lr": "",
        "seed": "0",
        "device": "cpu",
        "precision": "auto",
        "dataset": "imagefolder",
        "data": "",
        "download": False,
        "output": "no-runs",  # the app's runs folder
        "max_steps": "3",
    }


def test_a_settings_file_of_another_shape_reads_as_no_values():
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text('{"train_form": {"epochs": 5, "seed": ["7"]}}')
    assert load_settings().train_form == {}


# Snapshots: alexnet's eval form with its weights choice open, with an empty torch hub cache.


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
def test_eval_form_with_its_weights_open(snap_compare, shared_cache, tmp_path, monkeypatch, size):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    async def open_weights(pilot):
        await _open(pilot, "e")
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(_app(shared_cache, model="alexnet"), terminal_size=size, run_before=open_weights)
