"""Published ResNet weights as data: where each file is, how to check it, what it needs.

Sources (read 2026-11):
- torchvision: torchvision/models/resnet.py (v0.29.1), the ResNet{18,34,50,101,152}_Weights
  enums: URLs, acc@1/acc@5 on ImageNet-1k val ("_metrics"), resize_size (256 by default,
  232 for the V2 files) and crop_size 224 of their ImageClassification transforms. The
  8 hex digits in each file name are the start of its SHA-256 (torch.hub's check_hash).
  Their bottlenecks put the stride in the 3×3 conv ("v1.5"): resnetlab builds them with
  stride_in_1x1=False.
- torchvision's Wide ResNet and ResNeXt weights: the same file, Wide_ResNet{50,101}_2_Weights
  and ResNeXt{50_32X4D,101_32X8D,101_64X4D}_Weights (num_params there is pinned by the tests).
  resnext101_64x4d has one file (IMAGENET1K_V1, trained with the new recipe, resize 232).
- timm: timm/models/resnet.py default_cfgs (url, input 224, crop_pct 0.875, bicubic, ImageNet
  mean/std: `_ttcfg`) and timm's docs/models/resnet-d.md and se-resnet.md (model-index:
  top-1/top-5 at 224 px, crop_pct 0.875). Only files that name their SHA-256 prefix and whose
  accuracy timm states are here: resnet50d.ra2_in1k and seresnet50.ra2_in1k. timm's other
  resnet50d/seresnet50 tags (a1/a2/a3, ra4) publish no accuracy at 224 in those sources, and
  resnetv2_50's files live on the Hugging Face hub only (no URL with a checksum in timm's
  source), so they are left out.
- Idelbayev: the README of github.com/akamaster/pytorch_resnet_cifar10 (table "Test
  err(this impl.)"); its file names carry the start of the SHA-256 as torchvision's do
  (checked on resnet20-12fca82f.th and resnet56-4bfd9763.th). Accuracy here is 100 minus
  that error. Option-A (zero-padding) shortcuts, resnetlab's CIFAR default.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from resnetlab.weights.metadata import IMAGENET_NORMALIZATION, dataset_classes

TORCHVISION_SOURCE = "torchvision/models/resnet.py (v0.29.1), ResNet*_Weights meta _metrics"
IDELBAYEV_SOURCE = ("github.com/akamaster/pytorch_resnet_cifar10 README, "
                    "'Test err(this impl.)' (accuracy = 100 - error)")
IDELBAYEV_BASE = "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/"
TORCHVISION_BASE = "https://download.pytorch.org/models/"
TIMM_SOURCE = "timm docs/models/{page} (model-index, 224 px, crop_pct 0.875, bicubic)"
TIMM_BASE = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"


@dataclass(frozen=True)
class PublishedWeights:
    """One published weights file and everything needed to use it.

    checksum: the publisher's own, as given (here always the leading hex digits of the
    file's SHA-256, from its name). model/overrides: the resnetlab architecture the
    converted state dict loads into strictly. source: the state-dict format for
    resnetlab.models.convert. accuracy: top-1 (and top-5 where given) in %, as published,
    on `dataset`'s test/val set, with accuracy_source saying where it is from.
    """

    name: str
    url: str
    checksum: str
    model: str
    overrides: dict[str, Any]
    source: str
    dataset: str  # "imagenet-1k" or "cifar10"
    normalization: dict[str, list[float]]
    input_size: tuple[int, int, int]
    crop_pct: float
    accuracy: dict[str, float]
    accuracy_source: str
    publisher: str
    homepage: str
    default: bool = False  # what pretrained=True gives for its model name
    notes: str = ""
    aliases: tuple[str, ...] = field(default=())
    num_params: int | None = None  # as the publisher states it, where it does

    @property
    def checksum_algorithm(self) -> str:
        return "sha256-prefix"

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def num_classes(self) -> int:
        return int(self.overrides["num_classes"])

    @property
    def classes(self) -> tuple[str, ...]:
        return dataset_classes(self.dataset)

    def meta(self) -> dict[str, Any]:
        """resnetlab model-file metadata for the converted weights (see checkpoint.save_model)."""
        meta: dict[str, Any] = {
            "model": self.model, "overrides": dict(self.overrides), "source": self.source,
            "classes": list(self.classes), "normalization": {k: list(v) for k, v in
                                                             self.normalization.items()},
            "input_size": list(self.input_size), "crop_pct": self.crop_pct,
            "trained_on": self.dataset, "weights": self.name, "url": self.url,
            "checksum": self.checksum, "published_accuracy": dict(self.accuracy),
            "accuracy_source": self.accuracy_source,
        }
        if self.dataset == "cifar10":  # a data set resnetlab loads: evaluate needs no --data
            meta["dataset"] = "cifar10"
        return meta

    def row(self) -> dict[str, Any]:
        """A JSON-ready description (what `resnetlab weights list --json` prints)."""
        return {"name": self.name, "model": self.model, "overrides": dict(self.overrides),
                "source": self.source, "url": self.url, "filename": self.filename,
                "checksum": self.checksum, "checksum_algorithm": self.checksum_algorithm,
                "dataset": self.dataset, "num_classes": self.num_classes,
                "normalization": {k: list(v) for k, v in self.normalization.items()},
                "input_size": list(self.input_size), "crop_pct": self.crop_pct,
                "accuracy": dict(self.accuracy), "accuracy_source": self.accuracy_source,
                "publisher": self.publisher, "homepage": self.homepage,
                "default": self.default, "aliases": list(self.aliases), "notes": self.notes,
                "num_params": self.num_params}


def _tv(model: str | int, version: int, digest: str, top1: float, top5: float,
        default: bool, resize: int | None = None, num_params: int | None = None,
        recipe: str = "") -> PublishedWeights:
    """A torchvision file: MODEL is the registry name (a depth for the plain ResNets)."""
    model = f"resnet{model}" if isinstance(model, int) else model
    bottleneck = model not in ("resnet18", "resnet34")
    resize = resize or (256 if version == 1 else 232)
    notes = recipe or ("torchvision's first recipe; reproduces the paper closely" if version == 1
                       else "torchvision's new training recipe (2021), resize 232 / crop 224")
    if bottleneck:
        notes += "; v1.5 bottleneck (stride in the 3x3 conv)"
    overrides: dict[str, Any] = {"num_classes": 1000, "in_chans": 3}
    if bottleneck:
        overrides["stride_in_1x1"] = False
    return PublishedWeights(
        name=f"tv-{model}-v{version}",
        url=f"{TORCHVISION_BASE}{model}-{digest}.pth",
        checksum=digest, model=model, overrides=overrides, source="torchvision",
        dataset="imagenet-1k", normalization=IMAGENET_NORMALIZATION, input_size=(3, 224, 224),
        crop_pct=round(224 / resize, 4), accuracy={"top1": top1, "top5": top5},
        accuracy_source=TORCHVISION_SOURCE + f", IMAGENET1K_V{version}; 224 crop of a "
                                             f"{resize} resize",
        publisher="torchvision", homepage="https://pytorch.org/vision/stable/models.html",
        default=default, notes=notes, num_params=num_params,
        aliases=(f"tv-{model}",) if default else (),
    )


def _timm(model: str, tag: str, filename: str, top1: float, top5: float, page: str,
          num_params: int, notes: str) -> PublishedWeights:
    """A timm file (timm's `MODEL.TAG_in1k`), evaluated by timm at 224 px, crop_pct 0.875."""
    digest = filename.rsplit("-", 1)[1].split(".")[0]
    return PublishedWeights(
        name=f"timm-{model}-{tag}", url=TIMM_BASE + filename, checksum=digest, model=model,
        overrides={"num_classes": 1000, "in_chans": 3, "stride_in_1x1": False},
        source="timm", dataset="imagenet-1k", normalization=IMAGENET_NORMALIZATION,
        input_size=(3, 224, 224), crop_pct=0.875, accuracy={"top1": top1, "top5": top5},
        accuracy_source=TIMM_SOURCE.format(page=page) + f"; timm's {model}.{tag}_in1k",
        publisher="timm (Ross Wightman, Apache-2.0)",
        homepage="https://github.com/huggingface/pytorch-image-models", default=True,
        notes=notes + "; timm resizes bicubic, resnetlab's predict bilinear (results may "
                      "differ slightly from timm's)", num_params=num_params,
        aliases=(f"timm-{model}",),
    )


def _idelbayev(depth: int, digest: str, error: float) -> PublishedWeights:
    return PublishedWeights(
        name=f"cifar10-resnet{depth}", url=f"{IDELBAYEV_BASE}resnet{depth}-{digest}.th",
        checksum=digest, model=f"resnet{depth}", overrides={"num_classes": 10, "in_chans": 3},
        source="cifar-reference", dataset="cifar10", normalization=IMAGENET_NORMALIZATION,
        input_size=(3, 32, 32), crop_pct=1.0, accuracy={"top1": round(100 - error, 2)},
        accuracy_source=IDELBAYEV_SOURCE + f" ({error}%)",
        publisher="Yerlan Idelbayev (pytorch_resnet_cifar10, BSD-2-Clause)",
        homepage="https://github.com/akamaster/pytorch_resnet_cifar10", default=True,
        notes="the paper's CIFAR-10 net, option A shortcuts; trained on all 50k training "
              "images; inputs normalised with ImageNet's mean/std",
    )


CATALOG: dict[str, PublishedWeights] = {
    w.name: w
    for w in (
        _tv(18, 1, "f37072fd", 69.758, 89.078, default=True),
        _tv(34, 1, "b627a593", 73.314, 91.420, default=True),
        _tv(50, 1, "0676ba61", 76.130, 92.862, default=False),
        _tv(50, 2, "11ad3fa6", 80.858, 95.434, default=True),
        _tv(101, 1, "63fe2227", 77.374, 93.546, default=False),
        _tv(101, 2, "cd907fc2", 81.886, 95.780, default=True),
        _tv(152, 1, "394f9c45", 78.312, 94.046, default=False),
        _tv(152, 2, "f82ba261", 82.284, 96.002, default=True),
        _tv("wide_resnet50_2", 1, "95faca4d", 78.468, 94.086, default=False,
            num_params=68_883_240),
        _tv("wide_resnet50_2", 2, "9ba9bcbe", 81.602, 95.758, default=True,
            num_params=68_883_240),
        _tv("wide_resnet101_2", 1, "32ee1156", 78.848, 94.284, default=False,
            num_params=126_886_696),
        _tv("wide_resnet101_2", 2, "d733dc28", 82.510, 96.020, default=True,
            num_params=126_886_696),
        _tv("resnext50_32x4d", 1, "7cdf4587", 77.618, 93.698, default=False,
            num_params=25_028_904),
        _tv("resnext50_32x4d", 2, "1a0047aa", 81.198, 95.340, default=True,
            num_params=25_028_904),
        _tv("resnext101_32x8d", 1, "8ba56ff5", 79.312, 94.526, default=False,
            num_params=88_791_336),
        _tv("resnext101_32x8d", 2, "110c445d", 82.834, 96.228, default=True,
            num_params=88_791_336),
        _tv("resnext101_64x4d", 1, "173b62eb", 83.246, 96.454, default=True, resize=232,
            num_params=83_455_272, recipe="torchvision's new training recipe (its only file), "
                                          "resize 232 / crop 224"),
        _timm("resnet50d", "ra2", "resnet50d_ra2-464e36ba.pth", 80.55, 95.16, "resnet-d.md",
              25_576_264, "ResNet-D (Bag of Tricks): deep 3x3 stem, average-pool shortcut; "
                          "RandAugment recipe"),
        _timm("seresnet50", "ra2", "seresnet50_ra_224-8efdb4bb.pth", 80.26, 95.07,
              "se-resnet.md", 28_088_024, "SE-ResNet-50 (SE reduction 16); RandAugment recipe"),
        _idelbayev(20, "12fca82f", 8.27),
        _idelbayev(32, "d509ac18", 7.37),
        _idelbayev(44, "014dd654", 6.90),
        _idelbayev(56, "4bfd9763", 6.61),
        _idelbayev(110, "1d1ed7c2", 6.32),
        _idelbayev(1202, "f3b1deed", 6.18),
    )
}
_ALIASES = {a: w.name for w in CATALOG.values() for a in w.aliases}


def list_weights() -> list[PublishedWeights]:
    """Every published entry, in catalogue order."""
    return list(CATALOG.values())


def is_weights_name(name: str) -> bool:
    return name in CATALOG or name in _ALIASES


def get_weights(name: str | PublishedWeights) -> PublishedWeights:
    """The entry called NAME (or an alias such as 'tv-resnet50', torchvision's default).

    An unknown name is refused with the closest known names.
    """
    if isinstance(name, PublishedWeights):
        return name
    if name in CATALOG:
        return CATALOG[name]
    if name in _ALIASES:
        return CATALOG[_ALIASES[name]]
    known = list(CATALOG) + list(_ALIASES)
    close = difflib.get_close_matches(name, known, n=4, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown weights {name!r}{hint} (`resnetlab weights list` shows all "
                     f"{len(CATALOG)})")


def default_weights(model: str) -> PublishedWeights:
    """What pretrained=True means for a registry model name (torchvision's DEFAULT for
    ImageNet nets, Idelbayev's file for CIFAR-10 nets)."""
    for w in CATALOG.values():
        if w.model == model and w.default:
            return w
    have = sorted({w.model for w in CATALOG.values()})
    raise ValueError(f"no published weights for {model!r}; they exist for {', '.join(have)} "
                     "(`resnetlab weights list`); give pretrained= a file or run folder instead")
