"""Wide residual networks for CIFAR (Zagoruyko & Komodakis 2016): WRN-d-k."""

import torch
from torch import nn


class WideBasicBlock(nn.Module):
    """Pre-activation block: BN-ReLU-conv3x3, BN-ReLU-(dropout)-conv3x3, plus the shortcut."""

    def __init__(self, in_channels: int, channels: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu2 = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.shortcut = (
            nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False)
            if stride != 1 or in_channels != channels
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu1(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(self.dropout(self.relu2(self.bn2(out))))
        # A projecting shortcut starts from the pre-activated input, as in the reference code.
        return out + (x if self.shortcut is None else self.shortcut(pre))


class WideResNet(nn.Module):
    def __init__(self, depth: int, widen_factor: int, num_classes: int = 10, dropout: float = 0.0) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"WRN depth must be 6n+4, got {depth}")
        blocks = (depth - 4) // 6
        widths = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.conv1 = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        self.layer1 = self._make_group(widths[0], widths[1], blocks, 1, dropout)
        self.layer2 = self._make_group(widths[1], widths[2], blocks, 2, dropout)
        self.layer3 = self._make_group(widths[2], widths[3], blocks, 2, dropout)
        self.bn = nn.BatchNorm2d(widths[3])
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[3], num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    @staticmethod
    def _make_group(in_channels: int, channels: int, blocks: int, stride: int, dropout: float) -> nn.Sequential:
        layers = [WideBasicBlock(in_channels, channels, stride, dropout)]
        layers += [WideBasicBlock(channels, channels, 1, dropout) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        x = self.avgpool(self.relu(self.bn(x)))
        return self.fc(torch.flatten(x, 1))


def wide_resnet(depth: int, widen_factor: int, num_classes: int = 10, dropout: float = 0.0) -> WideResNet:
    """WRN-``depth``-``widen_factor`` for 32x32 inputs."""
    return WideResNet(depth, widen_factor, num_classes, dropout)
