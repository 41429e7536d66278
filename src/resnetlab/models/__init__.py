"""Networks of the paper: blocks, the ResNet class, the registry, checkpoint conversion."""

from resnetlab.models.blocks import BasicBlock, Bottleneck, PadShortcut
from resnetlab.models.registry import ModelSpec, build_model, get_spec, list_models, register
from resnetlab.models.resnet import ResNet

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ModelSpec",
    "PadShortcut",
    "ResNet",
    "build_model",
    "get_spec",
    "list_models",
    "register",
]
