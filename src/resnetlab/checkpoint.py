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
from safetensors.torch import load_file, save_file
from torch import nn

# atomic_write / atomic_write_text / versions moved to resnetlab.io and resnetlab.provenance;
# re-exported here for one release.
from resnetlab.io import atomic_write, atomic_write_text
from resnetlab.models.convert import load_weights
from resnetlab.models.registry import create_model, get_spec
from resnetlab.models.resnet import V1_MARKER
from resnetlab.provenance import versions

__all__ = ["MODEL_FILE", "atomic_write", "atomic_write_text", "load_model", "read_meta",
           "resolve_model_path", "save_model", "unwrap", "versions"]
MODEL_FILE = "model.safetensors"


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
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata=header))
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
            return json.loads(side.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{side}: corrupt model description ({e})") from e
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except Exception as e:
        raise ValueError(f"{path}: not a readable safetensors file ({e})") from e
    if "resnetlab" in header:
        return json.loads(header["resnetlab"])
    if "model" in header:  # written by `resnetlab convert`
        return {"model": header["model"], "overrides": json.loads(header.get("overrides", "{}"))}
    raise ValueError(f"{path}: no resnetlab metadata; convert it with `resnetlab convert`")


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
        raise ValueError(f"{path}: not a readable safetensors file ({e})") from e
    meta, state = upgrade_variant(meta, state)
    model = create_model(meta["model"], **meta.get("overrides", {}))
    load_weights(model, state, what=str(path))
    model.pretrained_cfg = meta
    return model.to(device).eval(), meta
