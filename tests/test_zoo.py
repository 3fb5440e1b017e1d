import subprocess
import sys

import pytest
import torch

from cnnexplorer import zoo
from cnnexplorer.errors import UsageError

TORCHVISION_NAMES = [
    "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "wide_resnet50_2", "wide_resnet101_2", "densenet121", "densenet161", "densenet169", "densenet201",
]  # fmt: skip
OWN_NAMES = [
    "alexnet-2012", "alexnet-2012-2gpu", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
    "wrn-28-10", "wrn-16-8", "densenet-bc-100",
]  # fmt: skip


def test_zoo_holds_every_architecture_of_the_issue():
    assert sorted(zoo.names()) == sorted(TORCHVISION_NAMES + OWN_NAMES)
    for name in TORCHVISION_NAMES:
        assert zoo.get(name).torchvision_name == name
    for name in OWN_NAMES:
        assert zoo.get(name).torchvision_name is None


def test_every_family_is_populated_in_historical_order():
    groups = zoo.by_family()
    assert list(groups) == ["AlexNet", "VGG", "GoogLeNet", "ResNet", "Wide ResNet", "DenseNet"]
    assert all(groups.values())


@pytest.mark.parametrize(
    ("query", "name"),
    [("ResNet50", "resnet50"), ("Alexnet_2012", "alexnet-2012"), ("WRN_28_10", "wrn-28-10"),
     ("wide-resnet50-2", "wide_resnet50_2"), ("  VGG16_BN ", "vgg16_bn"), ("DenseNet-BC-100", "densenet-bc-100")],
)  # fmt: skip
def test_lookup_is_case_insensitive_and_accepts_dash_or_underscore(query, name):
    assert zoo.get(query).name == name


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UsageError) as error:
        zoo.get("resnet51")
    message = str(error.value)
    assert "resnet51" in message and "resnet50" in message
    assert "\n" not in message


def test_unknown_name_with_no_close_match_points_to_the_list():
    with pytest.raises(UsageError, match="cnnexplorer list"):
        zoo.get("transformer")


def test_registry_does_not_import_torch():
    code = "import sys, cnnexplorer.zoo, cnnexplorer.cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_default_input_sizes_follow_the_papers():
    assert zoo.get("alexnet-2012").input_size == (3, 227, 227)
    assert zoo.get("resnet56").input_size == (3, 32, 32)
    assert zoo.get("wrn-28-10").num_classes == 10
    assert zoo.get("vgg16").input_size == (3, 224, 224)


def test_builders_honour_num_classes():
    with torch.device("meta"):
        model = zoo.get("resnet20").build(num_classes=7)
    assert model.fc.out_features == 7
