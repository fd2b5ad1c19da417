"""The SPIN/HMR ResNet-50 feature extractor: ImageNet-normalised RGB crops (N, 3, 224, 224) -> (N, 2048).

torchvision's ResNet-50 layout (Bottleneck blocks [3, 4, 6, 3], stride in the 3×3 convolution, BatchNorm
with running statistics), written here so the core does not need torchvision. Parameter names are those of
SPIN's ``model`` dict (``conv1``, ``bn1``, ``layer1.0.conv1`` …); the regression head is not built.
"""

from __future__ import annotations

import torch
from torch import nn


class Bottleneck(nn.Module):
    """1×1 -> 3×3 (stride) -> 1×1 (×4 channels), each followed by BN; residual add; ReLU."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class ResNet50Features(nn.Module):
    """crops: (N, 3, 224, 224) float, ImageNet-normalised RGB -> features (N, 2048).

    conv1 7×7/2 -> BN -> ReLU -> maxpool 3×3/2 -> layer1..4 -> AvgPool2d(7, stride 1) -> flatten.
    Use in eval mode (BatchNorm running statistics), as :func:`core.load_backbone` returns it.
    """

    def __init__(self, layers=(3, 4, 6, 3)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = 64
        for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), start=1):
            stride = 1 if i == 1 else 2
            downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * 4),
            )
            blocks_list = [Bottleneck(inplanes, planes, stride, downsample)]
            inplanes = planes * 4
            blocks_list += [Bottleneck(inplanes, planes) for _ in range(1, blocks)]
            setattr(self, f"layer{i}", nn.Sequential(*blocks_list))
        self.avgpool = nn.AvgPool2d(7, stride=1)

    def forward(self, crops):
        if crops.dim() != 4 or crops.shape[1:] != (3, 224, 224):
            raise ValueError(f"crops must be (N, 3, 224, 224), got {tuple(crops.shape)}")
        first = next(self.parameters())
        if first.is_contiguous(memory_format=torch.channels_last) and not first.is_contiguous():
            crops = crops.contiguous(memory_format=torch.channels_last)
        x = self.maxpool(self.relu(self.bn1(self.conv1(crops))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)
