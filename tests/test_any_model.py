"""Names beyond the curated zoo: torchvision's classifiers, timm:NAME and the user's own module."""

import textwrap

import pytest

from cnnexplorer import zoo
from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.errors import UsageError
from tests.conftest import assert_usage_error, run_cli, wait_for_screen

SMALL_CNN = '''\
from torch import nn


class SmallNet(nn.Module):
    """Two conv blocks and a classifier, for CIFAR-sized input."""

    input_size = (3, 32, 32)

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(32, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def no_classes():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))


def raises():
    raise RuntimeError("this layer\\ndoes not exist")


def not_a_module():
    return 42


class Gate(nn.Module):
    def forward(self, x):
        return x.relu() if x.mean() > 0 else x  # a branch on a value: the meta device has none


def data_dependent(num_classes=10):
    return nn.Sequential(nn.Conv2d(3, 8, 3), Gate(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes))
'''


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "mynet.py"
    path.write_text(SMALL_CNN)
    return path


# torchvision ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "size"),
    [("mobilenet_v3_small", 224), ("efficientnet_b3", 300), ("inception_v3", 299), ("vit_h_14", 518)],
)
def test_a_torchvision_classifier_opens_at_the_crop_its_weights_were_trained_at(name, size):
    arch = zoo.get(name)
    assert arch.input_size == (3, size, size)
    assert arch.builder == f"torchvision:{name}"
    assert arch.family == "torchvision"


def test_torchvision_prefix_and_spelling_are_accepted():
    assert zoo.get("torchvision:mobilenet_v2").name == "mobilenet_v2"
    assert zoo.get("MobileNet-V2").name == "mobilenet_v2"


def test_the_curated_zoo_stays_the_default_list_and_the_others_come_after():
    everything = zoo.all_names()
    assert everything[: len(zoo.names())] == zoo.names()
    assert {"convnext_tiny", "vit_b_16", "regnet_y_400mf", "swin_t"} <= set(zoo.more_names())
    assert not set(zoo.more_names()) & set(zoo.names())
    assert len(everything) == len(set(everything))


def test_published_figures_come_from_the_weights_metadata():
    from cnnexplorer.zoo.published import published

    figures = published(zoo.get("mobilenet_v3_small"))
    assert (figures.num_params, figures.gmacs, figures.acc1) == (2542856, 0.057, 67.668)


def test_an_unknown_plain_name_suggests_torchvision_names_too():
    with pytest.raises(UsageError, match="mobilenet_v3_small"):
        zoo.get("mobilenet_v3_smal")


def test_regnet_builds_on_the_meta_device():
    import torch

    with torch.device("meta"):
        model = zoo.get("regnet_y_400mf").build()
    assert sum(p.numel() for p in model.parameters()) == 4344144


# The user's own module ---------------------------------------------------------------------


def test_a_user_file_is_analysed_at_its_declared_input(user_file):
    from cnnexplorer.analysis.engine import analyze

    arch = zoo.get(f"{user_file}:SmallNet")
    assert (arch.name, arch.input_size, arch.num_classes, arch.family) == (
        f"{user_file}:SmallNet",
        (3, 32, 32),
        10,
        "your model",
    )
    analysis = analyze(AnalysisRequest.of(arch.name))
    convs = 3 * 16 * 9 + 16 + 16 * 32 * 9 + 32
    assert analysis.totals.params == convs + 2 * (16 + 32) + 32 * 10 + 10
    assert analysis.totals.macs == 32 * 32 * 16 * 27 + 16 * 16 * 32 * 144 + 320 + analysis_extra(analysis)


def analysis_extra(analysis) -> int:
    """MACs the engine counts outside convolutions and the linear layer (batch norms)."""
    leaves = [node for node in analysis.root.walk() if not node.children]
    return sum(node.macs for node in leaves if node.type not in ("Conv2d", "Linear"))


def test_a_factory_without_num_classes_is_called_without_it(user_file):
    import torch

    arch = zoo.get(f"{user_file}:no_classes")
    assert arch.input_size == (3, 224, 224)
    with torch.device("meta"):
        assert arch.build(num_classes=10)[-1].out_features == 5


def test_a_user_model_is_diffed_against_resnet18(user_file):
    from cnnexplorer.diff import diff_models

    left = AnalysisRequest.of(f"{user_file}:SmallNet", (3, 32, 32))
    diff = diff_models(left, AnalysisRequest.of("resnet18", (3, 32, 32)))
    assert diff.left.totals.params < diff.right.totals.params


def test_a_user_model_bypasses_the_disk_cache(user_file, tmp_path, monkeypatch):
    from cnnexplorer.analysis import store

    monkeypatch.setenv("CNNEXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    request = AnalysisRequest.of(f"{user_file}:SmallNet")
    store.analyze_cached(request)
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())
    assert store.load(request) is None


def test_a_package_module_factory_is_imported(tmp_path, monkeypatch):
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(SMALL_CNN)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert zoo.get("mypkg.nets:SmallNet").input_size == (3, 32, 32)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("{file}:raises", "RuntimeError: this layer does not exist"),
        ("{file}:not_a_module", "not a torch.nn.Module"),
        ("{file}:missing", "no function or class 'missing'"),
        ("{folder}/nope.py:Net", "no such file"),
        ("no_such_package.nets:Net", "no module named 'no_such_package.nets'"),
        ("what ever:Net", "cannot read the model name"),
    ],
)
def test_bad_user_models_are_one_line_and_exit_2(user_file, spec, needle):
    name = spec.format(file=user_file, folder=user_file.parent)
    assert_usage_error(run_cli("summary", name, "--no-cache"), needle)


def test_a_factory_that_raises_names_the_model(user_file):
    with pytest.raises(UsageError) as raised:
        zoo.get(f"{user_file}:raises")
    assert str(raised.value).startswith(f"{user_file}:raises: RuntimeError")


def test_summary_of_a_user_file_on_the_command_line(user_file):
    result = run_cli("summary", f"{user_file}:SmallNet", "--depth", "1")
    assert result.returncode == 0, result.stderr
    assert "classifier" in result.stdout and "Linear" in result.stdout


# timm --------------------------------------------------------------------------------------


def test_timm_without_timm_says_how_to_install_it(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_timm(name, *args, **kwargs):
        if name == "timm":
            raise ImportError("no timm")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_timm)
    with pytest.raises(UsageError, match="pip install timm"):
        zoo.get("timm:resnet50d")


def test_timm_model_at_its_default_input():
    pytest.importorskip("timm", reason="timm is an optional extra (pip install timm); CI installs it")
    arch = zoo.get("timm:resnet50d")
    assert (arch.input_size, arch.family, arch.builder) == ((3, 224, 224), "timm", "timm:resnet50d")
    with pytest.raises(UsageError, match="did you mean"):
        zoo.get("timm:resnet50dd")


def test_resnet50_diffed_against_timm_resnet50d():
    pytest.importorskip("timm", reason="timm is an optional extra (pip install timm); CI installs it")
    from cnnexplorer.diff import diff_models

    diff = diff_models(AnalysisRequest.of("resnet50"), AnalysisRequest.of("timm:resnet50d"))
    assert diff.right.totals.params == 25576264  # timm's resnet50d, counted from its modules


def test_list_help_names_the_all_option():
    result = run_cli("list", "--help")
    assert "--all" in result.stdout


def test_user_code_docstring_says_it_runs_the_users_code():
    from cnnexplorer.zoo import resolve

    assert "runs the user's code" in " ".join(textwrap.dedent(resolve.__doc__).split())


def test_a_user_model_trains_a_few_steps_with_the_generic_recipe(user_file, tmp_path):
    import json

    runs = tmp_path / "runs"
    args = ["--dataset", "fake", "--max-steps", "2", "--batch-size", "4", "--fake-size", "8", "--device", "cpu"]
    result = run_cli("train", f"{user_file}:SmallNet", *args, "--output", str(runs))
    assert result.returncode == 0, result.stderr
    assert "recipe: generic recipe (no paper recipe for" in result.stdout
    (run_dir,) = runs.iterdir()
    assert run_dir.name.endswith("-mynet-SmallNet")
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"] == f"{user_file}:SmallNet"
    assert config["recipe"].startswith("generic recipe")
    evaluated = run_cli("eval", f"{user_file}:SmallNet", "--checkpoint", str(run_dir / "best.pt"), "--dataset", "fake")
    assert evaluated.returncode == 0, evaluated.stderr


def test_a_torchvision_model_gets_the_generic_recipe_and_the_zoo_keeps_its_own():
    from cnnexplorer.train.recipes import recipe_for

    assert recipe_for(zoo.get("convnext_tiny")).source.startswith("generic recipe (no paper recipe for convnext_tiny)")
    assert recipe_for(zoo.get("resnet50")).source.startswith("He et al. 2015")


# The app -----------------------------------------------------------------------------------


async def test_the_palette_offers_the_others_and_opens_one_under_more(shared_cache):
    from cnnexplorer.app import make_app
    from cnnexplorer.app.widgets.zoo_list import ZooList
    from tests.conftest import settle

    app = make_app(cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        commands = {command.title: command.help for command in app.get_system_commands(app.screen)}
        assert commands["Open architecture: convnext_tiny"].startswith("more:")
        app.open_architecture("mobilenet_v3_small")
        await settle(pilot)
        assert app.screen.analysis.name == "mobilenet_v3_small"
        zoo_list = app.screen.query_one(ZooList)
        assert zoo_list.cursor_node.data == "mobilenet_v3_small"
        assert str(zoo_list.cursor_node.parent.label).startswith("more (")
        assert zoo_list.cursor_node.parent.is_expanded


async def test_the_zoo_list_folds_every_other_classifier_under_more_and_keys_open_one(shared_cache):
    from torchvision.models import get_model_weights

    from cnnexplorer import units
    from cnnexplorer.app import make_app
    from cnnexplorer.app.widgets.zoo_list import ZooList
    from tests.conftest import settle

    others = zoo.more_names()
    app = make_app("alexnet", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        zoo_list = app.screen.query_one(ZooList)
        more = zoo_list.cursor_node.parent.parent.children[-1]
        assert str(more.label) == f"more ({len(others)} · ctrl+f filters)" and not more.is_expanded
        assert [leaf.data for leaf in more.children] == others
        await pilot.press("shift+left", *["shift+down"] * len(zoo.by_family()))
        assert zoo_list.cursor_node is more
        await pilot.press("space", "down")  # unfold, then the first of them
        await settle(pilot)
        first = others[0]
        assert app.screen.analysis.name == first
        # its figures beside it once analysed at its default input: params as torchvision publishes them
        published = next(iter(get_model_weights(first))).meta["num_params"]
        assert units.count(published) in str(zoo_list.cursor_node.label)


async def test_a_bad_name_from_the_palette_is_a_notification(shared_cache, user_file):
    from cnnexplorer.app import make_app
    from tests.conftest import settle

    app = make_app("resnet18", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_architecture(f"{user_file}:raises")
        await settle(pilot)
        assert app.screen.analysis.name == "resnet18"
        assert any("RuntimeError" in notification.message for notification in app._notifications)


async def test_the_diff_picker_finds_the_others_and_takes_a_typed_user_model(shared_cache, user_file):
    from cnnexplorer.app import make_app
    from cnnexplorer.app.screens.diff_screen import DiffScreen
    from tests.conftest import settle

    app = make_app("resnet18", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await pilot.pause()
        await pilot.press(*f"{user_file}:SmallNet", "enter")
        await wait_for_screen(pilot, DiffScreen)
        assert isinstance(app.screen, DiffScreen)
        assert app.screen.diff.right.name == f"{user_file}:SmallNet"
        await pilot.press("escape")
        await pilot.press("d")
        await pilot.pause()
        await pilot.press(*"shufflenet_v2_x0_5", "enter")
        await wait_for_screen(pilot, DiffScreen)
        assert app.screen.diff.right.name == "shufflenet_v2_x0_5"


def test_a_model_the_meta_device_cannot_run_names_the_module_and_the_op(user_file):
    result = run_cli("summary", f"{user_file}:data_dependent", "--input", "3x16x16")
    assert_usage_error(result, "cannot run on the meta device: 1 (Gate) needs values (Tensor.item()")
    assert "--device cpu" in result.stderr


def test_device_cpu_runs_it_for_real_with_a_note(user_file):
    result = run_cli("summary", f"{user_file}:data_dependent", "--input", "3x16x16", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "note: --device cpu: the model runs for real on the CPU" in result.stderr
    assert "Gate" in result.stdout


def test_device_cpu_gives_the_meta_figures_for_a_zoo_model():
    from cnnexplorer.analysis.engine import analyze

    request = AnalysisRequest.of("resnet20")
    real, meta = analyze(request, device="cpu"), analyze(request)
    assert (real.totals.params, real.totals.macs) == (meta.totals.params, meta.totals.macs)


def test_the_receptive_field_is_global_after_squeeze_excitation_and_global_pooling():
    from cnnexplorer.analysis.engine import analyze
    from cnnexplorer.render.summary import rf_cell

    analysis = analyze(AnalysisRequest.of("mobilenet_v3_small"))
    paths = analysis.paths
    assert rf_cell(paths["features.0"].field) != "global"  # the stem: a 3x3 conv
    assert rf_cell(paths["features.1.block.1"].field) == "global"  # its SE block scales every position
    assert rf_cell(paths["features.12"].field) == "global"  # and everything after stays global
    resnet = analyze(AnalysisRequest.of("resnet18"))
    assert rf_cell(resnet.paths["layer4"].field) != "global"
    assert rf_cell(resnet.paths["avgpool"].field) == "global"


def test_list_all_holds_the_zoo_then_the_others_and_a_warm_summary_of_one_imports_no_torch(tmp_path):
    import json
    import subprocess
    import sys

    env = {"CNNEXPLORER_CACHE_DIR": str(tmp_path)}
    listed = run_cli("list", "--all", "--format", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    names = [row["name"] for row in json.loads(listed.stdout)]
    assert names == zoo.all_names()
    warm = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cnnexplorer", "summary", "convnext_tiny", "--depth", "0"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
        timeout=120,
    )
    assert warm.returncode == 0, warm.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in warm.stderr.splitlines() if line.startswith("import time:")}
    assert not imported & {"torch", "torchvision"}
