"""Networks of the paper and its family: blocks, the ResNet class, the registry, conversion."""

from resnetlab.models.blocks import BasicBlock, Bottleneck, PadShortcut
from resnetlab.models.drop_path import DropPath
from resnetlab.models.features import ResNetFeatures
from resnetlab.models.preact import PreActBasicBlock, PreActBottleneck
from resnetlab.models.registry import ModelSpec, build_model, get_spec, list_models, register
from resnetlab.models.resnet import ResNet
from resnetlab.models.squeeze_excite import SqueezeExcite

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "DropPath",
    "ModelSpec",
    "PadShortcut",
    "PreActBasicBlock",
    "PreActBottleneck",
    "ResNet",
    "ResNetFeatures",
    "SqueezeExcite",
    "build_model",
    "get_spec",
    "list_models",
    "register",
]
