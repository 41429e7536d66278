"""resnetlab's own model files: safetensors weights + a JSON description, written atomically.

A model file is enough to evaluate, predict and export: model.json names the network, its
overrides, the class names and the input normalisation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn

from resnetlab.io import atomic_write_bytes, atomic_write_text
from resnetlab.models.convert import load_weights
from resnetlab.models.registry import build_model, get_spec
from resnetlab.models.resnet import V1_MARKER
from resnetlab.provenance import versions

__all__ = ["MODEL_FILE", "check_meta", "first_non_finite", "load_model", "read_meta",
           "resolve_model_path", "save_model", "unwrap"]
MODEL_FILE = "model.safetensors"
# Bounds on what a model description may ask for, checked before anything is allocated.
MAX_CLASSES = 100_000  # ImageNet-21k, the largest set a ResNet is trained on, has 21,841
MAX_SIDE = 4096  # pixels per side of the model input; ResNets are trained at 32..480
MAX_CHANNELS = 64
WIDEST_FEATURES = 2048  # features entering the classifier of the widest zoo model


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module under torch.compile and DDP wrappers (what gets saved)."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
            model = model.module
        else:
            return model


def save_model(path: str | Path, model: nn.Module, meta: dict[str, Any]) -> Path:
    """Write weights to PATH (.safetensors) and meta to PATH with .json, both atomically.

    meta must hold "model" (a registry name); "overrides", "classes", "normalization"
    {"mean", "std"} and "input_size" are used by evaluate/predict/export when present.
    """
    if "model" not in meta:
        raise ValueError("model metadata needs the registry name under 'model'")
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path / MODEL_FILE
    meta = {**meta, "versions": meta.get("versions") or versions()}
    variant = getattr(unwrap(model), "stride_in_1x1", None)
    if variant is not None and _is_bottleneck(meta["model"]):  # v1 or v1.5, stated in the file
        meta["overrides"] = {**(meta.get("overrides") or {}), "stride_in_1x1": bool(variant)}
    state = {k: v.detach().cpu().contiguous() for k, v in unwrap(model).state_dict().items()}
    header = {"resnetlab": json.dumps(meta, sort_keys=True)}
    atomic_write_bytes(path, safetensors_bytes(state, metadata=header))  # os.write: ENOSPC named
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return path


def _is_bottleneck(name: str) -> bool:
    try:
        return get_spec(name).block == "bottleneck"
    except ValueError:
        return False


def upgrade_variant(meta: dict[str, Any], state: dict[str, torch.Tensor]
                    ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(meta, state) of a model file written before `resnet50` & co. meant torchvision's
    v1.5: such a file names a bottleneck net without stating stride_in_1x1 and holds no
    V1_MARKER, and its weights were trained as the paper's v1 (the old default), so it is
    read as v1. Any other file is returned as is."""
    overrides = dict(meta.get("overrides") or {})
    if (not _is_bottleneck(meta.get("model", "")) or "stride_in_1x1" in overrides
            or V1_MARKER in state or get_spec(meta["model"]).kwargs.get("stride_in_1x1")):
        return meta, state
    overrides["stride_in_1x1"] = True
    return {**meta, "overrides": overrides}, {**state, V1_MARKER: torch.ones(())}


def read_meta(path: str | Path) -> dict[str, Any]:
    """The description of a model file: its .json beside it, else its safetensors header."""
    path = resolve_model_path(path)
    side = path.with_suffix(".json")
    if side.is_file():
        try:
            return check_meta(json.loads(side.read_text()), side)
        except json.JSONDecodeError as e:
            raise ValueError(f"{side}: corrupt model description ({e})") from e
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except Exception as e:
        raise _unreadable(path, e) from e
    try:
        if "resnetlab" in header:
            return check_meta(json.loads(header["resnetlab"]), path)
        if "model" in header:  # written by `resnetlab convert`
            return check_meta({"model": header["model"],
                               "overrides": json.loads(header.get("overrides", "{}"))}, path)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: corrupt resnetlab metadata in its safetensors header ({e}); "
                         "write a model.json beside it or convert the weights again") from e
    raise ValueError(f"{path}: no resnetlab metadata; convert it with `resnetlab convert`")


def check_meta(meta: Any, where: str | Path) -> dict[str, Any]:
    """meta, checked to be a model description whose sizes are in bounds (before any
    allocation); ValueError naming `where` (its file), the key and the reason otherwise."""
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: not a JSON object (found a {type(meta).__name__}); a model "
                         'description maps keys to values, e.g. {"model": "resnet20", ...}')
    if not isinstance(meta.get("model"), str):
        raise ValueError(f'{where}: no "model" key naming the network (a registry name such '
                         'as "resnet20"); add it, or re-save the model with resnetlab')
    overrides = meta.get("overrides", {})
    if not isinstance(overrides, dict):
        raise ValueError(f'{where}: "overrides" must be a JSON object, got {overrides!r}')
    n = overrides.get("num_classes")
    if n is not None and (not _is_int(n) or not 1 <= n <= MAX_CLASSES):
        gb = f"{n * WIDEST_FEATURES * 4 / 1e9:.3g}" if _is_int(n) and n > 0 else "?"
        raise ValueError(f"{where}: num_classes {n!r} is out of range: at most {MAX_CLASSES} "
                         f"(the largest data set has ~22k classes; a classifier of {n} classes "
                         f"would take up to {gb} GB of weights)")
    c = overrides.get("in_chans")
    if c is not None and (not _is_int(c) or not 1 <= c <= MAX_CHANNELS):
        raise ValueError(f"{where}: in_chans {c!r} is out of range 1..{MAX_CHANNELS}")
    size = meta.get("input_size")
    if size is not None:
        ok = (isinstance(size, list) and len(size) == 3 and all(_is_int(v) for v in size)
              and 1 <= size[0] <= MAX_CHANNELS and all(1 <= v <= MAX_SIDE for v in size[1:]))
        if not ok:
            raise ValueError(
                f"{where}: input_size {size!r} is out of bounds: [channels, height, width] with "
                f"channels 1..{MAX_CHANNELS} and sides 1..{MAX_SIDE} pixels (ResNets are "
                f"trained at 32..480; a larger image is refused by the image decoder as a "
                "decompression bomb and would take gigabytes per batch)")
    return meta


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _unreadable(path: Path, e: Exception) -> ValueError:
    """The error for a weights file that safetensors cannot read: a torch checkpoint (zip or
    legacy pickle) is named as one, with the command that imports it."""
    with open(path, "rb") as f:
        head = f.read(9)
    zipped = head.startswith(b"PK\x03\x04")
    pickled = head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
    if zipped or pickled:
        return ValueError(f"{path}: this is a torch checkpoint (torch.save), not a resnetlab "
                          f"model file: run `resnetlab convert {path} OUT.safetensors --source "
                          "torchvision|timm|cifar-reference` and use OUT.safetensors")
    return ValueError(f"{path}: not a readable safetensors file ({e})")


def first_non_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor holding inf or nan, else None (one check
    over all of them: one device synchronisation, not one per tensor)."""
    floats = [(k, t) for k, t in tensors.items()
              if isinstance(t, torch.Tensor) and t.is_floating_point()]
    if not floats:
        return None
    device = floats[0][1].device
    ok = torch.stack([t.detach().isfinite().all().to(device) for _, t in floats])
    bad = (~ok).nonzero()
    return floats[int(bad[0])][0] if len(bad) else None


def resolve_model_path(path: str | Path) -> Path:
    """A run folder or a .safetensors file -> the weights file; errors name what is missing."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no model file at {path}: give a .safetensors file or a run folder holding "
            f"{MODEL_FILE}"
        )
    return path


def load_model(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """(model in eval mode, its metadata) from a resnetlab model file or run folder.

    The model also carries the metadata as `model.pretrained_cfg` (timm's name), so code
    that passes the model alone keeps it; the (model, meta) pair stays for this release."""
    path = resolve_model_path(path)
    meta = read_meta(path)
    try:
        state = load_file(str(path))
    except Exception as e:
        raise _unreadable(path, e) from e
    bad = first_non_finite(state)
    if bad is not None:
        raise ValueError(f"{path}: tensor {bad!r} is not finite (it holds inf or nan): these "
                         "weights are broken, e.g. by a diverged run; use an earlier checkpoint "
                         "(best.safetensors) or train again with a lower lr")
    meta, state = upgrade_variant(meta, state)
    model = build_model(meta["model"], **meta.get("overrides", {}))
    load_weights(model, state, what=str(path))
    model.pretrained_cfg = meta
    return model.to(device).eval(), meta
