"""Start a network from weights: a published name, a resnetlab model file, or a foreign file.

    create_model("resnet20", pretrained="cifar10-resnet20", num_classes=5)

goes through load_pretrained() here; `resnetlab train --init SOURCE` can call init_from()
on the model it built. Both copy every tensor of the weights strictly, with one exception:
a classifier (fc) for another number of classes is left as the model's own freshly
initialised nn.Linear, as timm's reset_classifier does. Any other difference (another
depth, width, block, shortcut or input channels) is refused, naming the first mismatching
tensor. Both return a LoadReport: which tensors were loaded, which are new, and the
metadata (classes, normalisation, input size) of the weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnetlab.models.registry import build_model
from resnetlab.weights.catalog import (
    CATALOG,
    PublishedWeights,
    default_weights,
    get_weights,
    is_weights_name,
)
from resnetlab.weights.metadata import source_meta

CLASSIFIER = ("fc.weight", "fc.bias")
# Metadata that describes the input, valid whatever classifier the model ends up with.
INPUT_KEYS = ("normalization", "input_size", "crop_pct")


@dataclass
class LoadReport:
    """What loading weights into a model did.

    source: what was loaded (a weight name, or a file's path). loaded: the model's tensors
    (parameters and buffers, state_dict names) copied from the weights. new: the model's
    tensors that kept their fresh initialisation (the classifier, when the class count
    differs; otherwise empty). meta: the weights' own metadata: "model", "overrides" and,
    where known, "classes", "normalization", "input_size", "crop_pct", "source".
    """

    source: str
    loaded: list[str]
    new: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    weights_classes: int | None = None
    model_classes: int | None = None

    @property
    def head_replaced(self) -> bool:
        return bool(self.new)

    def model_meta(self, model_name: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Metadata for saving the loaded model: the weights' input normalisation and size,
        and their class names only when the classifier was kept."""
        meta: dict[str, Any] = {"model": model_name, "overrides": dict(overrides),
                                "init": self.source}
        meta.update({k: self.meta[k] for k in INPUT_KEYS if k in self.meta})
        if not self.head_replaced:
            for k in ("classes", "dataset"):
                if k in self.meta:
                    meta[k] = self.meta[k]
        return meta

    def summary(self) -> str:
        """One line for a log or report.md."""
        text = f"loaded {len(self.loaded)} tensors from {self.source}"
        if self.new:
            text += (f"; new (freshly initialised): {', '.join(self.new)} "
                     f"({self.weights_classes} -> {self.model_classes} classes)")
        return text


def detect_source(state_dict: Mapping[str, torch.Tensor]) -> str:
    """The format of a foreign state dict: "cifar-reference" (Idelbayev's: classifier
    'linear', shortcuts 'shortcut') or "torchvision" (also timm's ResNets: same names)."""
    keys = [k.removeprefix("module.") for k in state_dict]
    if any(k.startswith("linear.") or ".shortcut." in k for k in keys):
        return "cifar-reference"
    if any(k.endswith("conv1.weight") for k in keys) and any(k.endswith("fc.weight")
                                                            for k in keys):
        return "torchvision"
    raise ValueError(
        "cannot tell the checkpoint's format from its keys (first: "
        f"{', '.join(list(state_dict)[:4])}): name it (source_format= / --init-source: "
        "torchvision, timm or cifar-reference)"
    )


def _is_resnetlab_file(path: Path) -> bool:
    from resnetlab.checkpoint import read_meta, resolve_model_path

    if path.is_dir():
        return True
    if path.suffix != ".safetensors":
        return False
    try:
        read_meta(resolve_model_path(path))
    except ValueError:
        return False  # a safetensors file without resnetlab metadata: timm publishes those
    return True


def read_pretrained(
    source: str | Path | PublishedWeights,
    *,
    source_format: str | None = None,
    download: bool = True,
    progress: bool = True,
) -> tuple[dict[str, torch.Tensor], dict[str, Any], str]:
    """(state dict in resnetlab's names, its metadata, a label) for any weights source.

    source: a published name ('cifar10-resnet20', see `resnetlab weights list`), a
    resnetlab model file or run folder, or a torchvision / timm / Idelbayev checkpoint file
    (format detected, or given as source_format). The metadata holds "model" and
    "overrides" (the architecture the tensors load into) and, where the source tells,
    "classes", "normalization", "input_size" and "crop_pct".
    """
    from resnetlab.models.convert import (
        SOURCES,
        convert_state_dict,
        read_state_dict,
        source_architecture,
    )

    if isinstance(source, PublishedWeights) or (isinstance(source, str)
                                                and is_weights_name(source)):
        from resnetlab.weights.cache import fetch

        w = get_weights(source)
        path = fetch(w, download=download, progress=progress)
        # The entry names its architecture; the caller's strict load checks every tensor.
        return convert_state_dict(read_state_dict(path), w.source), w.meta(), w.name
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(_not_found(str(source)))
    if source_format not in (None, "resnetlab") and source_format not in SOURCES:
        raise ValueError(f"unknown source format {source_format!r}: use one of "
                         f"{', '.join(SOURCES)}")
    if source_format == "resnetlab" or (source_format is None and _is_resnetlab_file(path)):
        from safetensors.torch import load_file

        from resnetlab.checkpoint import read_meta, resolve_model_path, upgrade_variant

        weights = resolve_model_path(path)
        meta = read_meta(weights)
        try:
            state = load_file(str(weights))
        except Exception as e:
            raise ValueError(f"{weights}: not a readable safetensors file ({e})") from e
        meta, state = upgrade_variant(meta, state)
        return state, meta, str(path)
    raw = read_state_dict(path)
    fmt = source_format or detect_source(raw)
    state = convert_state_dict(raw, fmt)
    name, overrides = source_architecture(state, fmt)
    meta = {"model": name, "overrides": overrides, "source": fmt,
            **source_meta(fmt, name, overrides)}
    return state, meta, str(path)


def _not_found(source: str) -> str:
    import difflib

    close = difflib.get_close_matches(source, list(CATALOG), n=4, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return (f"{source!r} is neither published weights (`resnetlab weights list`) nor an "
            f"existing file or run folder.{hint}")


def init_from(
    model: nn.Module,
    source: str | Path | PublishedWeights,
    *,
    source_format: str | None = None,
    download: bool = True,
    progress: bool = True,
) -> LoadReport:
    """Load weights into an existing model and report which tensors were loaded / are new.

    Every tensor of the model must come from the weights with the same name and shape,
    except the classifier (fc.weight, fc.bias): when the model has another number of
    classes, it keeps its own fresh initialisation (as timm's reset_classifier) and is
    listed in LoadReport.new. Anything else that differs is refused with a ValueError
    naming the first mismatching tensor; the model is then left unchanged. The model may
    be wrapped (DDP, DataParallel, torch.compile); its tensors keep their dtype and device.

    source: see read_pretrained. Used by create_model(..., pretrained=...) and meant for
    `resnetlab train --init`.
    """
    state, meta, label = read_pretrained(source, source_format=source_format,
                                         download=download, progress=progress)
    return load_state(model, state, meta, label)


def load_state(
    model: nn.Module, state: Mapping[str, torch.Tensor], meta: dict[str, Any], label: str
) -> LoadReport:
    """init_from's second half, for a state dict already in resnetlab's names."""
    from resnetlab.checkpoint import unwrap

    own = unwrap(model).state_dict()  # the plain module under DDP / torch.compile
    new = _head_to_replace(own, state)
    problems: list[str] = []
    for k, v in own.items():
        if k in new:
            continue
        if k not in state:
            problems.append(f"{k} {tuple(v.shape)} is missing from the weights")
        elif tuple(state[k].shape) != tuple(v.shape):
            problems.append(f"{k} is {tuple(state[k].shape)} in the weights but "
                            f"{tuple(v.shape)} in the model")
    extra = [k for k in state if k not in own]
    problems += [f"{k} {tuple(state[k].shape)} of the weights has no place in the model"
                 for k in extra]
    if problems:
        arch = meta.get("model", "?")
        raise ValueError(
            f"{label} ({arch} {meta.get('overrides', {})}) does not fit this model: first "
            f"mismatching tensor {problems[0]} ({len(problems)} mismatch(es) in all). Use the "
            "architecture of the weights; only the classifier may differ."
        )
    loaded = [k for k in own if k not in new]
    with torch.no_grad():
        for k in loaded:
            own[k].copy_(state[k])
    return LoadReport(
        source=label, loaded=loaded, new=new, meta=meta,
        weights_classes=int(state["fc.weight"].shape[0]) if "fc.weight" in state else None,
        model_classes=int(own["fc.weight"].shape[0]) if "fc.weight" in own else None,
    )


def _head_to_replace(own: Mapping[str, torch.Tensor],
                     state: Mapping[str, torch.Tensor]) -> list[str]:
    """The classifier's names when only its class count differs (same feature width)."""
    if not all(k in own and k in state for k in CLASSIFIER):
        return []
    w_own, w_new = own["fc.weight"], state["fc.weight"]
    if w_own.ndim != 2 or w_new.ndim != 2 or w_own.shape[1] != w_new.shape[1]:
        return []  # another feature width: a real mismatch, reported as such
    if w_own.shape[0] == w_new.shape[0]:
        return []
    return list(CLASSIFIER)


def load_pretrained(
    name: str,
    pretrained: str | Path | bool | PublishedWeights,
    *,
    source_format: str | None = None,
    download: bool = True,
    progress: bool = True,
    **overrides: Any,
) -> tuple[nn.Module, LoadReport]:
    """(model, report): registry model NAME built for the weights and loaded from them.

    pretrained: True (the default published weights for NAME: torchvision's DEFAULT, or
    Idelbayev's CIFAR-10 file), a published weight name, a resnetlab model file or run
    folder, or a torchvision / timm / Idelbayev checkpoint. The architecture overrides the
    weights need (e.g. stride_in_1x1=False for torchvision's v1.5 bottlenecks) are applied
    when NAME is the weights' own model; explicit overrides win. num_classes defaults to the
    weights'; another value gets a fresh classifier (see init_from). The model is returned
    in training mode, as create_model returns it.
    """
    if pretrained is True:
        pretrained = default_weights(name)
    state, meta, label = read_pretrained(pretrained, source_format=source_format,
                                         download=download, progress=progress)
    arch = dict(meta.get("overrides") or {}) if meta.get("model") == name else {}
    if "num_classes" not in arch and "fc.weight" in state:
        arch["num_classes"] = int(state["fc.weight"].shape[0])
    arch.update(overrides)
    model = build_model(name, **arch)
    if arch.get("features_only"):  # a backbone: every tensor but the classifier's
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    report = load_state(model, state, meta, label)
    return model, report


def create_model(name: str, pretrained: Any = None, num_classes: int | None = None,
                 **kwargs: Any) -> nn.Module:
    """Build a registered network, with weights when `pretrained` is given: resnetlab's one
    public model factory (timm's signature).

    pretrained: None/False (fresh initialisation), True (NAME's default published weights), a
    published weight name ('cifar10-resnet20', `resnetlab weights list`), a resnetlab model
    file or run folder, or a torchvision/timm/Idelbayev checkpoint. num_classes: None keeps the
    weights' (or the registry's) count; another value gets a fresh classifier. kwargs: the
    architecture overrides of models.registry.build_model (in_chans, shortcut, ...).
    load_pretrained also reports what was loaded."""
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    if pretrained is None or pretrained is False:
        return build_model(name, **kwargs)
    return load_pretrained(name, pretrained, **kwargs)[0]
