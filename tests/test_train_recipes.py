"""Recipes, lr schedules and the torchrun command line (no training)."""

import math

import pytest

from cnnexplorer import zoo
from cnnexplorer.cli import build_parser
from cnnexplorer.train.building import lr_factor
from cnnexplorer.train.cli import child_arguments, resolve_train_config
from cnnexplorer.train.devices import torchrun_command
from cnnexplorer.train.recipes import milestone_epochs, recipe_for


@pytest.mark.parametrize(
    "name, lr, wd, nesterov, gamma, schedule",
    [
        ("alexnet-2012", 0.01, 5e-4, False, 0.1, "step"),
        ("vgg16", 0.01, 5e-4, False, 0.1, "plateau"),
        ("resnet50", 0.1, 1e-4, False, 0.1, "step"),
        ("resnet56", 0.1, 1e-4, False, 0.1, "step"),
        ("wrn-28-10", 0.1, 5e-4, True, 0.2, "step"),
        ("densenet-bc-100", 0.1, 1e-4, True, 0.1, "step"),
        ("densenet121", 0.1, 1e-4, True, 0.1, "step"),
    ],
)
def test_family_recipes_follow_the_papers(name, lr, wd, nesterov, gamma, schedule):
    recipe = recipe_for(zoo.get(name))
    assert (recipe.lr, recipe.weight_decay, recipe.nesterov, recipe.gamma, recipe.schedule) == (
        lr,
        wd,
        nesterov,
        gamma,
        schedule,
    )


def test_every_architecture_has_a_recipe_and_googlenet_its_auxiliary_weight():
    for arch in zoo.registry.ARCHITECTURES:
        assert recipe_for(arch).epochs > 0
    assert recipe_for(zoo.get("googlenet")).aux_weight == 0.3
    assert milestone_epochs(recipe_for(zoo.get("wrn-28-10")).milestones, 200) == [60, 120, 160]
    assert milestone_epochs(recipe_for(zoo.get("resnet50")).milestones, 90) == [30, 60]
    assert milestone_epochs(recipe_for(zoo.get("resnet50")).milestones, 9) == [3, 6]


def test_lr_factor_hand_values():
    step = dict(steps_per_epoch=10, epochs=9, schedule="step", milestones=(3, 6), gamma=0.1, warmup_epochs=0.0)
    assert [lr_factor(s, **step) for s in (0, 29, 30, 59, 60, 89)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    warm = dict(step, warmup_epochs=0.5)
    assert [lr_factor(s, **warm) for s in (0, 1, 4, 5)] == pytest.approx([0.2, 0.4, 1.0, 1.0])
    cosine = dict(steps_per_epoch=10, epochs=2, schedule="cosine", milestones=(), gamma=0.1, warmup_epochs=0.0)
    assert [lr_factor(s, **cosine) for s in (0, 10, 20)] == pytest.approx([1.0, 0.5, 0.0])
    assert lr_factor(5, **cosine) == pytest.approx(0.5 * (1 + math.cos(math.pi * 5 / 20)))


def test_torchrun_command_standalone_and_multi_node():
    single = torchrun_command(2, ["train", "resnet20"], {"nnodes": None})
    assert single[1:] == [
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "cnnexplorer",
        "train",
        "resnet20",
    ]
    multi = torchrun_command(
        4, ["train", "resnet50"], {"nnodes": "2", "node-rank": "1", "rdzv-endpoint": "h:29400", "rdzv-id": "job"}
    )
    assert "--standalone" not in multi
    for flag, value in (
        ("--nnodes", "2"),
        ("--node-rank", "1"),
        ("--rdzv-endpoint", "h:29400"),
        ("--rdzv-id", "job"),
        ("--rdzv-backend", "c10d"),
    ):
        assert multi[multi.index(flag) + 1] == value


def test_ranks_get_the_command_without_the_launch_flags(tmp_path):
    parser = build_parser()
    argv = [
        "train",
        "resnet20",
        "--dataset",
        "fake",
        "--nproc",
        "2",
        "--device",
        "cpu",
        "--nnodes",
        "1",
        "--lr",
        "0.5",
        "--no-nesterov",
        "--amp",
        "--milestones",
        "3,4",
        "--channels-last",
        "--output",
        str(tmp_path),
    ]
    args = parser.parse_args(argv)
    train_parser = args.handler.args[0]
    child = child_arguments(train_parser, args)
    assert child[:2] == ["train", "resnet20"]
    assert "--nproc" not in child and "--nnodes" not in child
    assert build_parser().parse_args(child).lr == 0.5
    reparsed = vars(build_parser().parse_args(child))
    for key in ("dataset", "device", "lr", "nesterov", "amp", "milestones", "channels_last", "output"):
        assert reparsed[key] == vars(args)[key], key


def test_flags_override_the_recipe_and_the_rest_stays(tmp_path):
    args = build_parser().parse_args(
        ["train", "wrn-16-8", "--dataset", "fake", "--epochs", "10", "--lr", "0.05", "--output", str(tmp_path)]
    )
    config = resolve_train_config(args)
    assert (config.lr, config.epochs, config.nesterov, config.gamma, config.weight_decay) == (0.05, 10, True, 0.2, 5e-4)
    assert config.milestones == [3, 6, 8] and config.image_size == 32 and config.num_classes == 10
    adamw = resolve_train_config(
        build_parser().parse_args(["train", "resnet18", "--dataset", "fake", "--optimizer", "adamw"])
    )
    assert (adamw.lr, adamw.weight_decay, adamw.nesterov, adamw.image_size) == (1e-3, 0.05, False, 224)


def test_gpus_map_through_an_inherited_cuda_visible_devices():
    from cnnexplorer.train.devices import visible_devices_value

    assert visible_devices_value([0, 1], None) == "0,1"
    assert visible_devices_value([1, 0], "4,6") == "6,4"
    assert visible_devices_value([1], "GPU-aaaa,GPU-bbbb") == "GPU-bbbb"
