"""Published ResNet weights as data: where each file is, how to check it, what it needs.

Sources (read 2026-11):
- torchvision: torchvision/models/resnet.py (v0.29.1), the ResNet{18,34,50,101,152}_Weights
  enums: URLs, acc@1/acc@5 on ImageNet-1k val ("_metrics"), resize_size (256 by default,
  232 for the V2 files) and crop_size 224 of their ImageClassification transforms. The
  8 hex digits in each file name are the start of its SHA-256 (torch.hub's check_hash).
  Their bottlenecks put the stride in the 3×3 conv ("v1.5"): resnetlab builds them with
  stride_in_1x1=False.
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
                "default": self.default, "aliases": list(self.aliases), "notes": self.notes}


def _tv(depth: int, version: int, digest: str, top1: float, top5: float,
        default: bool) -> PublishedWeights:
    bottleneck = depth >= 50
    resize = 256 if version == 1 else 232
    notes = ("torchvision's first recipe; reproduces the paper closely" if version == 1 else
             "torchvision's new training recipe (2021), resize 232 / crop 224")
    if bottleneck:
        notes += "; v1.5 bottleneck (stride in the 3x3 conv)"
    overrides: dict[str, Any] = {"num_classes": 1000, "in_chans": 3}
    if bottleneck:
        overrides["stride_in_1x1"] = False
    return PublishedWeights(
        name=f"tv-resnet{depth}-v{version}",
        url=f"{TORCHVISION_BASE}resnet{depth}-{digest}.pth",
        checksum=digest, model=f"resnet{depth}", overrides=overrides, source="torchvision",
        dataset="imagenet-1k", normalization=IMAGENET_NORMALIZATION, input_size=(3, 224, 224),
        crop_pct=round(224 / resize, 4), accuracy={"top1": top1, "top5": top5},
        accuracy_source=TORCHVISION_SOURCE + f", IMAGENET1K_V{version}; 224 crop of a "
                                             f"{resize} resize",
        publisher="torchvision", homepage="https://pytorch.org/vision/stable/models.html",
        default=default, notes=notes,
        aliases=(f"tv-resnet{depth}",) if default else (),
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
    have = sorted({w.model for w in CATALOG.values()}, key=lambda m: int(m[6:]))
    raise ValueError(f"no published weights for {model!r}; they exist for {', '.join(have)} "
                     "(`resnetlab weights list`); give pretrained= a file or run folder instead")
