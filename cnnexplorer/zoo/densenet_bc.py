"""DenseNet-BC for CIFAR (Huang et al. 2017): bottleneck layers and compressing transitions."""

import torch
from torch import nn


class BottleneckLayer(nn.Module):
    """BN-ReLU-conv1x1 (4k) then BN-ReLU-conv3x3 (k); the k new maps are concatenated."""

    def __init__(self, in_channels: int, growth_rate: int) -> None:
        super().__init__()
        inner = 4 * growth_rate
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, inner, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(inner)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(inner, growth_rate, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.relu1(self.bn1(x)))
        out = self.conv2(self.relu2(self.bn2(out)))
        return torch.cat([x, out], 1)


class Transition(nn.Sequential):
    """BN-ReLU-conv1x1 compressing the channels, then 2x2 average pooling."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.pool = nn.AvgPool2d(2)


class DenseNetBC(nn.Module):
    def __init__(self, depth: int, growth_rate: int, num_classes: int = 10, compression: float = 0.5) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"DenseNet-BC depth must be 6n+4, got {depth}")
        layers_per_block = (depth - 4) // 6
        channels = 2 * growth_rate
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        blocks: list[nn.Module] = []
        for index in range(3):
            block = nn.Sequential()
            for _ in range(layers_per_block):
                block.append(BottleneckLayer(channels, growth_rate))
                channels += growth_rate
            blocks.append(block)
            if index < 2:
                out_channels = int(channels * compression)
                blocks.append(Transition(channels, out_channels))
                channels = out_channels
        self.block1, self.trans1, self.block2, self.trans2, self.block3 = blocks
        self.bn = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = self.trans1(self.block1(x))
        x = self.trans2(self.block2(x))
        x = self.relu(self.bn(self.block3(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def densenet_bc(depth: int = 100, growth_rate: int = 12, num_classes: int = 10) -> DenseNetBC:
    """DenseNet-BC-``depth`` with growth rate ``growth_rate`` for 32x32 inputs."""
    return DenseNetBC(depth, growth_rate, num_classes)
