"""BatchNorm folding for inference: each conv absorbs the BatchNorm that follows it.

In eval mode BN is the affine map y = (x - mean) / sqrt(var + eps) * gamma + beta, so
conv-then-BN is one conv with scaled weights and a bias; folding removes a pass over every
activation. Pairs are found by torchvision's names (convN/bnN, downsample.0/.1), so the
model keeps its class, forward_features and forward_head.
"""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def conv_bn_pairs(module: nn.Module) -> list[tuple[nn.Module, str, str]]:
    """(parent, conv name, bn name) for every Conv2d directly followed by a BatchNorm2d."""
    pairs = []
    for parent in module.modules():
        if getattr(parent, "preact", False) is True and not hasattr(parent, "layer1"):
            continue  # a pre-activation block's bnN feeds its convN: nothing follows a conv
        children = dict(parent.named_children())
        if isinstance(parent, nn.Sequential):
            names = list(children)
            candidates = zip(names, names[1:])
        else:
            candidates = ((n, "bn" + n[len("conv"):]) for n in children if n.startswith("conv"))
        for conv, bn in candidates:
            if isinstance(_last_conv(children.get(conv)), nn.Conv2d) and isinstance(
                children.get(bn), nn.BatchNorm2d
            ):
                pairs.append((parent, conv, bn))
    return pairs


def _last_conv(module: nn.Module | None) -> nn.Module | None:
    """The module itself, or a deep stem's last conv (ResNet-C/D: conv1 = Sequential(..., conv))."""
    if isinstance(module, nn.Sequential) and len(module):
        return module[-1]
    return module


def fold_bn(model: nn.Module, inplace: bool = False) -> nn.Module:
    """An eval-mode copy of model whose convs absorbed their BatchNorms (now nn.Identity).

    Outputs match the unfolded model in eval mode to float rounding. A BatchNorm that no
    conv precedes is refused, since leaving it would make "folded" a half-truth.
    """
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    pairs = conv_bn_pairs(model)
    for parent, conv_name, bn_name in pairs:
        conv, bn = getattr(parent, conv_name), getattr(parent, bn_name)
        if not bn.track_running_stats or bn.running_mean is None:
            raise ValueError(f"{bn_name} keeps no running statistics: it cannot be folded")
        if isinstance(conv, nn.Sequential):
            conv[-1] = fuse_conv_bn_eval(conv[-1], bn)
        else:
            setattr(parent, conv_name, fuse_conv_bn_eval(conv, bn))
        setattr(parent, bn_name, nn.Identity())
    left = [n for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if left:
        raise ValueError(
            f"{len(left)} BatchNorm layer(s) follow no convolution and cannot be folded "
            f"(first: {left[0]}); export without --fold-bn"
        )
    return model


def count_bn(model: nn.Module) -> int:
    """BatchNorm layers left in model (0 after fold_bn)."""
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
