"""The registry: every network of the paper and of its family as data, one builder, wildcard
listing. Each row names its family, its paper (models/papers.py; the 2015 paper's numbers in
resnetlab.paper) and where its parameter count comes from."""

from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from typing import Any

from torch import nn

from resnetlab.models.blocks import check_shortcut
from resnetlab.models.features import ResNetFeatures
from resnetlab.models.papers import quote
from resnetlab.models.resnet import ResNet
from resnetlab.paper import CIFAR10_ERRORS, IMAGENET_ERRORS


@dataclass(frozen=True)
class ModelSpec:
    """A named network: what to build, and what its paper reported for it."""

    name: str
    dataset: str  # "cifar" or "imagenet"
    depth: int
    block: str  # "basic", "bottleneck", "preact_basic" or "preact_bottleneck"
    layers: tuple[int, ...]
    residual: bool = True
    kwargs: dict[str, Any] = field(default_factory=dict)
    paper_error: float | None = None  # top-1 test error in %, where the paper gives one
    paper_source: str = ""
    family: str = "resnet"  # resnet, plain, preact, wrn, resnext, seresnet, resnet-c, resnet-d
    paper: str = "resnet"  # a key of models.papers.PAPERS
    params: float | None = None  # the parameter count its source gives ...
    params_source: str = ""  # ... and that source: "torchvision", "timm" (exact) or a table

    @property
    def resolution(self) -> int:
        return 32 if self.dataset == "cifar" else 224

    @property
    def default_shortcut(self) -> str | None:
        return self.kwargs.get("shortcut") if self.residual else None


_REGISTRY: dict[str, ModelSpec] = {}

OVERRIDES = ("num_classes", "in_chans", "shortcut", "stride_in_1x1", "zero_init_residual",
             "norm_layer", "drop_path_rate", "dropout", "block_args", "cardinality", "base_width",
             "features_only", "out_indices")


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
        dataset="cifar",
        depth=depth,
        block="basic",
        layers=(n, n, n),
        residual=residual,
        family=kind,
        kwargs=dict(widths=(16, 32, 64), stem="cifar", num_classes=10, shortcut="A"),
        paper_error=CIFAR10_ERRORS.get(depth) if residual else None,
        paper_source="Table 6, CIFAR-10" if residual and depth in CIFAR10_ERRORS else "",
    )


_TORCHVISION_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160,
                       152: 60_192_808}
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
        dataset="imagenet",
        depth=depth,
        block=block,
        layers=layers,
        residual=residual,
        kwargs=dict(stem="imagenet", num_classes=1000, shortcut="B", stride_in_1x1=paper),
        paper_error=err,
        paper_source=src,
        family=kind,
        params=_TORCHVISION_PARAMS.get(depth) if residual else None,
        params_source="torchvision" if residual else "",
    )


def _quoted(spec: ModelSpec) -> ModelSpec:
    """The spec with its paper's error and parameter count filled in from models/papers.py."""
    q = quote(spec.paper, spec.name)
    where = f"{spec.paper}: {q.where}"
    return dataclass_replace(
        spec, paper_error=q.error, paper_source=where if q.error is not None else "",
        params=spec.params or q.params, params_source=spec.params_source or (
            where if q.params is not None else ""))


def _check_depth(family: str, depth: int, rule: str, offset: int, per: int) -> int:
    """Blocks per stage n for depth = per * n + offset, or one line naming the rule."""
    if depth < per + offset or (depth - offset) % per:
        raise ValueError(f"{family} depth must be {rule} with n >= 1, got {depth}")
    return (depth - offset) // per


def preact_spec(depth: int, bottleneck: bool | None = None) -> ModelSpec:
    """A pre-activation CIFAR net (Identity Mappings): basic blocks for depth 6n+2, bottlenecks
    (16/32/64 planes, x4) for 9n+2; bottleneck=None picks basic when 6n+2 (164 and 1001, the
    paper's bottleneck nets, are registered as such)."""
    if bottleneck is None:
        bottleneck = depth in (164, 1001) or (depth - 2) % 6 != 0
        if bottleneck and (depth - 2) % 9:
            raise ValueError(f"preact_resnet depth must be 6n+2 (basic blocks: 20, 56, 110, "
                             f"1202, ...) or 9n+2 (bottleneck: 164, 1001, ...), got {depth}")
    per = 9 if bottleneck else 6
    n = _check_depth("pre-activation " + ("bottleneck" if bottleneck else "basic"), depth,
                     f"{per}n+2", 2, per)
    return _quoted(ModelSpec(
        name=f"preact_resnet{depth}", dataset="cifar", depth=depth,
        block="preact_bottleneck" if bottleneck else "preact_basic", layers=(n, n, n),
        kwargs=dict(widths=(16, 32, 64), stem="cifar", num_classes=10, shortcut="B"),
        family="preact", paper="preact"))


def wrn_spec(depth: int, k: int) -> ModelSpec:
    """WRN-depth-k (Wide Residual Networks, Table 1): pre-activation basic blocks of
    16k/32k/64k after a 16-filter conv, depth 6n+4, dropout 0.3 between the convs (Sec. 2.4)."""
    n = _check_depth("wrn", depth, "6n+4", 4, 6)
    if k < 1:
        raise ValueError(f"wrn width k must be >= 1, got {k}")
    return _quoted(ModelSpec(
        name=f"wrn{depth}_{k}", dataset="cifar", depth=depth, block="preact_basic",
        layers=(n, n, n), family="wrn", paper="wrn",
        kwargs=dict(widths=(16 * k, 32 * k, 64 * k), stem="cifar", stem_width=16,
                    num_classes=10, shortcut="B", block_args=dict(dropout=0.3))))


def resnext_cifar_spec(depth: int, cardinality: int, width: int) -> ModelSpec:
    """ResNeXt-depth, CxWd on CIFAR (ResNeXt Sec. 5.3): a 64-filter conv, 3 stages of
    bottlenecks with outputs 256/512/1024, the first stage's 3x3 C groups of W; depth 9n+2."""
    n = _check_depth("CIFAR resnext", depth, "9n+2", 2, 9)
    if cardinality < 1 or width < 1:
        raise ValueError(f"resnext cardinality and width must be >= 1, got {cardinality}x"
                         f"{width}d")
    return _quoted(ModelSpec(
        name=f"resnext{depth}_{cardinality}x{width}d", dataset="cifar", depth=depth,
        block="bottleneck", layers=(n, n, n), family="resnext", paper="resnext",
        kwargs=dict(widths=(64, 128, 256), stem="cifar", stem_width=64, num_classes=10,
                    shortcut="B", stride_in_1x1=False, cardinality=cardinality,
                    base_width=width)))


_C, _D = dict(stem_type="deep"), dict(stem_type="deep", avg_down=True)
_SE = dict(block_args=dict(attn_layer="se"))
# The family on ImageNet, as torchvision and timm build them: name, depth, family, paper, options,
# parameters as counted from torchvision's or timm's layout (their results tables agree to
# 0.01M), and which library names it. Stride in the 3x3 (v1.5) throughout.
_FAMILY_IMAGENET = [
    ("resnetv2_50", 50, "preact", "preact", {}, 25_549_352, "timm"),
    ("resnetv2_101", 101, "preact", "preact", {}, 44_541_480, "timm"),
    ("resnetv2_152", 152, "preact", "preact", {}, 60_185_128, "timm"),
    ("resnet50c", 50, "resnet-c", "tricks", _C, 25_576_264, "timm"),
    ("resnet101c", 101, "resnet-c", "tricks", _C, 44_568_392, "timm"),
    ("resnet152c", 152, "resnet-c", "tricks", _C, 60_212_040, "timm"),
    ("resnet18d", 18, "resnet-d", "tricks", _D, 11_708_744, "timm"),
    ("resnet34d", 34, "resnet-d", "tricks", _D, 21_816_904, "timm"),
    ("resnet50d", 50, "resnet-d", "tricks", _D, 25_576_264, "timm"),
    ("resnet101d", 101, "resnet-d", "tricks", _D, 44_568_392, "timm"),
    ("resnet152d", 152, "resnet-d", "tricks", _D, 60_212_040, "timm"),
    ("wide_resnet50_2", 50, "wrn", "wrn", dict(base_width=128), 68_883_240, "torchvision"),
    ("wide_resnet101_2", 101, "wrn", "wrn", dict(base_width=128), 126_886_696, "torchvision"),
    ("resnext50_32x4d", 50, "resnext", "resnext", dict(cardinality=32, base_width=4),
     25_028_904, "torchvision"),
    ("resnext101_32x8d", 101, "resnext", "resnext", dict(cardinality=32, base_width=8),
     88_791_336, "torchvision"),
    ("resnext101_64x4d", 101, "resnext", "resnext", dict(cardinality=64, base_width=4),
     83_455_272, "torchvision"),
    ("seresnet50", 50, "seresnet", "senet", _SE, 28_088_024, "timm"),
    ("seresnet101", 101, "seresnet", "senet", _SE, 49_326_872, "timm"),
    ("seresnet152", 152, "seresnet", "senet", _SE, 66_821_848, "timm"),
]


def family_imagenet_spec(name: str, depth: int, family: str, paper: str, options: dict,
                         params: int, source: str) -> ModelSpec:
    block, layers = _IMAGENET[depth]
    if family == "preact":
        block = "preact_" + block
    return _quoted(ModelSpec(
        name=name, dataset="imagenet", depth=depth, block=block, layers=layers, family=family,
        paper=paper, params=params, params_source=source,
        kwargs=dict(stem="imagenet", num_classes=1000, shortcut="B", stride_in_1x1=False,
                    **options)))


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
for _d in (20, 32, 44, 56, 110, 164, 1001, 1202):
    register(preact_spec(_d))
for _d, _k in ((16, 8), (28, 10), (40, 4)):
    register(wrn_spec(_d, _k))
for _c in (8, 16):
    register(resnext_cifar_spec(29, _c, 64))
for _row in _FAMILY_IMAGENET:
    register(family_imagenet_spec(*_row))


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
    family = _family_pattern(name)
    if family is not None:
        return family
    close = difflib.get_close_matches(name, list(_REGISTRY), n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown model {name!r}{hint} (`resnetlab models` lists them all)")


def _family_pattern(name: str) -> ModelSpec | None:
    """Any depth and width of the family's CIFAR nets: preact_resnetD, wrnD_K, resnextD_CxWd."""
    if m := re.fullmatch(r"preact_resnet(\d+)", name):
        return preact_spec(int(m.group(1)))
    if m := re.fullmatch(r"wrn(\d+)_(\d+)", name):
        return wrn_spec(int(m.group(1)), int(m.group(2)))
    if m := re.fullmatch(r"resnext(\d+)_(\d+)x(\d+)d", name):
        if int(m.group(1)) in _IMAGENET:
            raise ValueError(f"unknown model {name!r}: the ImageNet ResNeXts are "
                             f"{', '.join(list_models('resnext[15]*'))}; CIFAR ones are "
                             f"resnextD_CxWd with D = 9n+2 (29)")
        return resnext_cifar_spec(*(int(g) for g in m.groups()))
    return None


def build_model(name: str, **overrides: Any) -> nn.Module:
    """The architecture of a registered network, freshly initialised. Overrides: num_classes,
    in_chans, shortcut ('A'|'B'|'C'), stride_in_1x1, zero_init_residual, norm_layer (a
    callable such as nn.BatchNorm2d), drop_path_rate (stochastic depth, linear in depth),
    dropout (before the classifier; in the CIFAR wide nets, between the convs), block_args
    (dict(attn_layer="se") for SE), cardinality, base_width; features_only=True with
    out_indices (0 stem, 1.. the stages) gives a backbone returning the stage outputs (see
    models.features). `resnetlab.create_model` builds through this and loads weights on
    request."""
    spec = get_spec(name)
    overrides = dict(overrides)
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        glued = " (YAML needs a space after the colon: {key: value})" if any(
            ":" in str(k) for k in unknown) else ""
        raise ValueError(f"unknown override(s) {unknown} for {name!r}; valid: "
                         f"{list(OVERRIDES)}{glued}")
    if not spec.residual and overrides.get("shortcut") not in (None,):
        raise ValueError(f"{name!r} is a plain net: it has no shortcuts to choose")
    if "shortcut" in overrides:
        overrides["shortcut"] = check_shortcut(overrides["shortcut"])
    if "num_classes" in overrides and int(overrides["num_classes"]) < 1:
        raise ValueError(f"num_classes must be >= 1, got {overrides['num_classes']}")
    if spec.block == "basic" and "stride_in_1x1" in overrides:
        overrides.pop("stride_in_1x1")  # basic blocks have no 1x1: the choice has no effect
    if spec.family == "wrn" and spec.dataset == "cifar" and "dropout" in overrides:
        # the wide nets' dropout sits between the convs (Zagoruyko & Komodakis, Sec. 2.4)
        overrides["block_args"] = {**spec.kwargs.get("block_args", {}),
                                   **overrides.get("block_args", {}),
                                   "dropout": overrides.pop("dropout")}
    features_only = overrides.pop("features_only", False)
    if not features_only and "out_indices" in overrides:
        raise ValueError("out_indices needs features_only=True")
    kwargs = {**spec.kwargs, **overrides}
    cls = ResNetFeatures if features_only else ResNet
    return cls(spec.block, spec.layers, residual=spec.residual, **kwargs)
