"""AlexNet as described by Krizhevsky et al. (2012) and tabulated in the course text."""

from collections import OrderedDict

import torch
from torch import nn


class AlexNet2012(nn.Module):
    """AlexNet for 227x227x3 inputs: ``features`` (five conv blocks) then ``classifier``."""

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential) -> None:
        super().__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def alexnet_2012(num_classes: int = 1000, two_towers: bool = False, dropout: float = 0.5) -> AlexNet2012:
    """Build AlexNet for 227x227x3 inputs.

    The layer order follows the course table (pooling before LRN, as in CaffeNet; the paper
    normalises first, which changes no shape or parameter count). With ``two_towers`` the
    convolutions that the paper kept within one GPU (conv2, conv4, conv5) become grouped
    convolutions with two groups, which gives the paper's ~61M parameters.
    """
    groups = 2 if two_towers else 1

    def lrn() -> nn.LocalResponseNorm:
        return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)

    features = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(3, 96, kernel_size=11, stride=4),
            relu1=nn.ReLU(inplace=True),
            pool1=nn.MaxPool2d(kernel_size=3, stride=2),
            lrn1=lrn(),
            conv2=nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=groups),
            relu2=nn.ReLU(inplace=True),
            pool2=nn.MaxPool2d(kernel_size=3, stride=2),
            lrn2=lrn(),
            conv3=nn.Conv2d(256, 384, kernel_size=3, padding=1),
            relu3=nn.ReLU(inplace=True),
            conv4=nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=groups),
            relu4=nn.ReLU(inplace=True),
            conv5=nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=groups),
            relu5=nn.ReLU(inplace=True),
            pool3=nn.MaxPool2d(kernel_size=3, stride=2),
        )
    )
    classifier = nn.Sequential(
        OrderedDict(
            flatten=nn.Flatten(),
            fc1=nn.Linear(256 * 6 * 6, 4096),
            relu6=nn.ReLU(inplace=True),
            drop6=nn.Dropout(dropout),
            fc2=nn.Linear(4096, 4096),
            relu7=nn.ReLU(inplace=True),
            drop7=nn.Dropout(dropout),
            fc3=nn.Linear(4096, num_classes),
        )
    )
    model = AlexNet2012(features, classifier)
    _init_weights(model)
    return model


def _init_weights(model: nn.Module) -> None:
    # The paper's initialisation: N(0, 0.01) weights; biases 1 in conv2/4/5 and the
    # hidden FC layers (to feed ReLUs positive inputs early), 0 elsewhere.
    ones = {"features.conv2", "features.conv4", "features.conv5", "classifier.fc1", "classifier.fc2"}
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(module.weight, mean=0.0, std=0.01)
            nn.init.constant_(module.bias, 1.0 if name in ones else 0.0)
