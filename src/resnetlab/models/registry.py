"""The registry: every network of the paper as data, one builder, wildcard listing."""

from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from typing import Any

from torch import nn

from resnetlab.models.blocks import check_shortcut
from resnetlab.models.resnet import ResNet
from resnetlab.paper import CIFAR10_ERRORS, IMAGENET_ERRORS


@dataclass(frozen=True)
class ModelSpec:
    """A named network: what to build, and what the paper reported for it."""

    name: str
    family: str  # "cifar" or "imagenet"
    depth: int
    block: str  # "basic" or "bottleneck"
    layers: tuple[int, ...]
    residual: bool = True
    kwargs: dict[str, Any] = field(default_factory=dict)
    paper_error: float | None = None  # top-1 test error in %, where the paper gives one
    paper_source: str = ""

    @property
    def resolution(self) -> int:
        return 32 if self.family == "cifar" else 224

    @property
    def default_shortcut(self) -> str | None:
        return self.kwargs.get("shortcut") if self.residual else None


_REGISTRY: dict[str, ModelSpec] = {}

OVERRIDES = ("num_classes", "in_chans", "shortcut", "stride_in_1x1", "zero_init_residual",
             "norm_layer")


def register(spec: ModelSpec) -> ModelSpec:
    """Add a network; a name registered twice is an error, never a silent replacement."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def cifar_spec(depth: int, residual: bool = True) -> ModelSpec:
    """The paper's CIFAR net of depth 6n+2: 3 stages of n basic blocks, 16/32/64 filters."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"CIFAR depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, 1202 ...), "
            f"got {depth}"
        )
    n = (depth - 2) // 6
    kind = "resnet" if residual else "plain"
    return ModelSpec(
        name=f"{kind}{depth}",
        family="cifar",
        depth=depth,
        block="basic",
        layers=(n, n, n),
        residual=residual,
        kwargs=dict(widths=(16, 32, 64), stem="cifar", num_classes=10, shortcut="A"),
        paper_error=CIFAR10_ERRORS.get(depth) if residual else None,
        paper_source="Table 6, CIFAR-10" if residual and depth in CIFAR10_ERRORS else "",
    )


_IMAGENET = {  # depth: (block, stage depths)
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
def imagenet_spec(depth: int, residual: bool = True, v1: bool = False) -> ModelSpec:
    """An ImageNet net of Table 1. Bottleneck nets (50, 101, 152) come in two forms with the
    same parameters: `resnet50` is the ecosystem's (torchvision's and timm's) v1.5, stride in
    the 3x3; `resnet50_v1` (v1=True) is the paper's, stride in the first 1x1, and carries
    the paper's error. Basic-block nets (18, 34) have one form and one name."""
    block, layers = _IMAGENET[depth]
    kind = "resnet" if residual else "plain"
    bottleneck = block == "bottleneck"
    paper = v1 or not bottleneck
    err, src = IMAGENET_ERRORS.get((kind, depth), (None, "")) if paper else (None, "")
    return ModelSpec(
        name=f"{kind}{depth}" + ("_v1" if v1 and bottleneck else ""),
        family="imagenet",
        depth=depth,
        block=block,
        layers=layers,
        residual=residual,
        kwargs=dict(stem="imagenet", num_classes=1000, shortcut="B", stride_in_1x1=paper),
        paper_error=err,
        paper_source=src,
    )


# Names that mean an ImageNet net in torchvision or timm but are CIFAR depths (6n+2) here:
# refused, with the name that builds the CIFAR net (NAME_cifar).
ECOSYSTEM_IMAGENET = {"resnet26": "timm's resnet26 (bottleneck, stages 2-2-2-2)",
                      "resnet200": "timm's resnet200 (bottleneck, stages 3-24-36-3)"}


for _d in (20, 32, 44, 56, 110, 1202):
    register(cifar_spec(_d))
    register(cifar_spec(_d, residual=False))
for _d in (18, 34, 50, 101, 152):
    register(imagenet_spec(_d))
    if _IMAGENET[_d][0] == "bottleneck":
        register(imagenet_spec(_d, v1=True))
for _d in (18, 34, 50):
    register(imagenet_spec(_d, residual=False))
register(imagenet_spec(50, residual=False, v1=True))


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names, in registration order, filtered by a shell wildcard ('resnet*')."""
    names = list(_REGISTRY)
    return [n for n in names if pattern is None or fnmatch.fnmatchcase(n, pattern)]


def get_spec(name: str) -> ModelSpec:
    """The spec of a registered name, or of any CIFAR depth 6n+2 ('resnet8', 'plain14')."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in ECOSYSTEM_IMAGENET:
        raise ValueError(
            f"{name!r} is {ECOSYSTEM_IMAGENET[name]}, an ImageNet net that resnetlab does not "
            f"build; resnetlab's ImageNet depths are 18, 34, 50, 101, 152. For the paper's CIFAR "
            f"net of depth {name[6:]} say {name}_cifar")
    m = re.fullmatch(r"(resnet|plain)(\d+)(_cifar)?", name)
    if m and (int(m.group(2)) not in _IMAGENET or m.group(3)):
        depth = int(m.group(2))
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(
                f"unknown model {name!r}: CIFAR depths are 6n+2 (20, 32, 44, 56, 110, ...) and "
                f"ImageNet depths 18, 34, 50, 101, 152; {depth} is neither"
            )
        return dataclass_replace(cifar_spec(depth, residual=m.group(1) == "resnet"), name=name)
    close = difflib.get_close_matches(name, list(_REGISTRY), n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown model {name!r}{hint} (`resnetlab models` lists them all)")


def build_model(name: str, **overrides: Any) -> nn.Module:
    """The architecture of a registered network, freshly initialised. Overrides: num_classes,
    in_chans, shortcut ('A'|'B'|'C'), stride_in_1x1, zero_init_residual, norm_layer (a
    callable such as nn.BatchNorm2d). `resnetlab.create_model` builds through this and loads
    weights on request."""
    spec = get_spec(name)
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise ValueError(f"unknown override(s) {unknown} for {name!r}; valid: {list(OVERRIDES)}")
    if not spec.residual and overrides.get("shortcut") not in (None,):
        raise ValueError(f"{name!r} is a plain net: it has no shortcuts to choose")
    if "shortcut" in overrides:
        overrides["shortcut"] = check_shortcut(overrides["shortcut"])
    if "num_classes" in overrides and int(overrides["num_classes"]) < 1:
        raise ValueError(f"num_classes must be >= 1, got {overrides['num_classes']}")
    if spec.family == "cifar" and "stride_in_1x1" in overrides:
        overrides.pop("stride_in_1x1")  # basic blocks have no 1x1: the choice has no effect
    kwargs = {**spec.kwargs, **overrides}
    return ResNet(spec.block, spec.layers, residual=spec.residual, **kwargs)
