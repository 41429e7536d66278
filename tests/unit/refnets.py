"""Reference ImageNet ResNets in torchvision's and timm's state-dict layouts, written for the
tests from the papers' descriptions (torchvision and timm cannot be imported here).

- Wide ResNet-50-2 (Zagoruyko & Komodakis 2016, as torchvision builds it): the bottleneck's
  inner 3x3 is twice as wide, the outer 1x1s are unchanged.
- ResNeXt (Xie et al. 2017, Fig. 3c): the 3x3 is a grouped conv of C groups of d channels, so
  the inner width is C*d at the first stage, doubling per stage.
- Both with torchvision's v1.5 stride (in the 3x3) and projection shortcuts
  (downsample.0 conv, downsample.1 BN) where the shape changes.
- ResNet-D (He et al. 2019, Bag of Tricks, Fig. 2): a stem of three 3x3 convs (32, 32, 64) in
  timm's layout conv1.0/1/3/4/6, and shortcuts that average-pool 2x2 before a stride-1 1x1
  conv (timm: downsample.0 pool, .1 conv, .2 BN).
- SE (Hu et al. 2018, Fig. 3): global average pool, 1x1 conv to C/16 with bias, ReLU, 1x1
  conv back to C with bias, sigmoid, scaling the branch before the addition (timm: se.fc1,
  se.fc2).
"""

from __future__ import annotations

import torch
from torch import nn


class SE(nn.Module):
    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x):
        s = self.fc2(torch.relu(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * torch.sigmoid(s)


class Bottleneck(nn.Module):
    def __init__(self, inplanes, planes, stride, groups, base_width, avg_down, se):
        super().__init__()
        width = int(planes * base_width / 64) * groups
        out = planes * 4
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        if se:
            self.se = SE(out)
        self.downsample = None
        if stride != 1 or inplanes != out:
            if avg_down:
                pool = (nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False)
                        if stride > 1 else nn.Identity())
                self.downsample = nn.Sequential(pool, nn.Conv2d(inplanes, out, 1, bias=False),
                                                nn.BatchNorm2d(out))
            else:
                self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False),
                                                nn.BatchNorm2d(out))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        if hasattr(self, "se"):
            y = self.se(y)
        return torch.relu(y + (x if self.downsample is None else self.downsample(x)))


class RefResNet(nn.Module):
    def __init__(self, layers, groups=1, base_width=64, deep_stem=False, avg_down=False,
                 se=False, num_classes=1000):
        super().__init__()
        if deep_stem:
            self.conv1 = nn.Sequential(
                nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                nn.Conv2d(32, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                nn.Conv2d(32, 64, 3, 1, 1, bias=False))
        else:
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, (n, planes) in enumerate(zip(layers, (64, 128, 256, 512))):
            blocks = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(Bottleneck(inplanes, planes, stride, groups, base_width,
                                         avg_down, se))
                inplanes = planes * 4
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(inplanes, num_classes)

    def forward(self, x):
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(x.mean((2, 3)))


# Each net as the publishers configure it (torchvision's groups / width_per_group, timm's
# stem_type='deep' + avg_down, timm's attn_layer='se').
CONFIGS = {
    "wide_resnet50_2": dict(layers=(3, 4, 6, 3), base_width=128),
    "wide_resnet101_2": dict(layers=(3, 4, 23, 3), base_width=128),
    "resnext50_32x4d": dict(layers=(3, 4, 6, 3), groups=32, base_width=4),
    "resnext101_32x8d": dict(layers=(3, 4, 23, 3), groups=32, base_width=8),
    "resnext101_64x4d": dict(layers=(3, 4, 23, 3), groups=64, base_width=4),
    "resnet50d": dict(layers=(3, 4, 6, 3), deep_stem=True, avg_down=True),
    "seresnet50": dict(layers=(3, 4, 6, 3), se=True),
}


def reference(name: str, seed: int = 0) -> RefResNet:
    """The reference net NAME in eval mode with random weights and random BN statistics
    (BN scales kept below 1 so a 101-layer net's logits stay of order one)."""
    torch.manual_seed(seed)
    net = RefResNet(**CONFIGS[name])
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.2, 0.6)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return net.eval()
