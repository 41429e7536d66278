"""Import checkpoints people already have: torchvision, timm, and Idelbayev's CIFAR nets.

Every file is read with weights_only=True (or as safetensors): no pickled code runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from resnetlab.models.registry import _IMAGENET, build_model, get_spec, list_models
from resnetlab.models.resnet import V1_MARKER

SOURCES = ("torchvision", "timm", "cifar-reference", "resnetlab")
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "module")
_PREFIXES = ("module.", "_orig_mod.", "model.")


def _load_failure(e: Exception) -> str:
    """What torch.load found, without torch's advice to load with weights_only=False (which
    would run the file's code): its "WeightsUnpickler error" line (the refused global)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    found = [ln for ln in lines if ln.startswith("WeightsUnpickler error")]
    safe = [ln for ln in lines if "weights_only" not in ln and "can still be loaded" not in ln]
    reason = (found or safe or ["an object other than tensors"])[0]
    for cut in (" was not an allowed global", ". Please "):  # torch's allow-listing advice
        reason = reason.split(cut)[0]
    return f"{type(e).__name__}: {reason}"


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file (.safetensors, or torch.save'd), on the CPU.

    Unwraps the usual containers ({'state_dict': ...}, {'model': ...}). Anything that is not
    a mapping of names to tensors is refused with an error naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except Exception as e:  # safetensors raises its own error types
            raise ValueError(f"{path}: not a readable safetensors file ({e})") from e
    try:
        obj: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(
            f"{path}: cannot be read as a weights-only checkpoint ({_load_failure(e)}). "
            "resnetlab never unpickles code; re-save the state_dict with "
            "torch.save(model.state_dict(), ...) or as safetensors."
        ) from e
    for _ in range(3):
        if isinstance(obj, Mapping):
            inner = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
            if inner is not None and not any(isinstance(v, torch.Tensor) for v in obj.values()):
                obj = inner
                continue
        break
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"{path}: not a state dict (found {type(obj).__name__})")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"{path}: holds no tensors (keys: {list(obj)[:5]})")
    return tensors


def _strip_prefixes(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in sd.items():
        changed = True
        while changed:
            changed = False
            for p in _PREFIXES:
                if k.startswith(p):
                    k, changed = k[len(p):], True
        out[k] = v
    return out


def convert_state_dict(
    state_dict: Mapping[str, torch.Tensor], source: str
) -> dict[str, torch.Tensor]:
    """Rename a foreign state dict to resnetlab's (torchvision's) names.

    source: "torchvision" and "timm" (already torchvision's names; wrappers' prefixes are
    stripped), "cifar-reference" (Idelbayev's pytorch_resnet_cifar10: 'module.' prefix,
    classifier 'linear', projection shortcuts 'shortcut.0/1'), or "resnetlab".
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}: use one of {', '.join(SOURCES)}")
    sd = _strip_prefixes(state_dict)
    if source == "cifar-reference":
        renamed = {}
        for k, v in sd.items():
            k = re.sub(r"^linear\.", "fc.", k)
            k = k.replace(".shortcut.", ".downsample.")
            renamed[k] = v
        sd = renamed
    # Checkpoints older than PyTorch 0.4.1 lack BN's num_batches_tracked counter.
    for k in [k for k in sd if k.endswith(".running_mean")]:
        sd.setdefault(k[: -len("running_mean")] + "num_batches_tracked", torch.tensor(0))
    return {k: v.detach().cpu().contiguous() for k, v in sd.items()}


def infer_architecture(state_dict: Mapping[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    """(model name, overrides) that fit a converted state dict, from its keys and shapes."""
    stem = "conv1.weight" if "conv1.weight" in state_dict else "conv1.0.weight"  # deep stem
    if stem not in state_dict or "fc.weight" not in state_dict:
        raise ValueError("not a ResNet state dict: 'conv1.weight' or 'fc.weight' is missing")
    blocks = {}
    for k in state_dict:
        m = re.match(r"layer(\d)\.(\d+)\.", k)
        if m:
            s, i = int(m.group(1)), int(m.group(2))
            blocks[s] = max(blocks.get(s, 0), i + 1)
    layers = tuple(blocks[s] for s in sorted(blocks))
    bottleneck = any(k.endswith("conv3.weight") for k in state_dict)
    conv1 = state_dict[stem]
    fc = state_dict["fc.weight"]
    overrides: dict[str, Any] = {"num_classes": int(fc.shape[0]), "in_chans": int(conv1.shape[1])}
    has_proj = any(".downsample.0.weight" in k for k in state_dict)
    if len(layers) == 3:
        n = layers[0]
        if layers != (n, n, n):
            raise ValueError(f"CIFAR ResNets have equal stages, found {layers}")
        name = f"resnet{6 * n + 2}"
        if has_proj:
            every = all(f"layer{s}.{i}.downsample.0.weight" in state_dict
                        for s in (1, 2, 3) for i in range(n))
            overrides["shortcut"] = "C" if every else "B"
        return name, overrides

    for depth, (block, stage_depths) in _IMAGENET.items():
        if stage_depths == layers and (block == "bottleneck") == bottleneck:
            if not has_proj:
                overrides["shortcut"] = "A"
            elif all(f"layer{s}.{i}.downsample.0.weight" in state_dict
                     for s in (1, 2, 3, 4) for i in range(layers[s - 1])):
                overrides["shortcut"] = "C"
            v1 = bottleneck and V1_MARKER in state_dict  # resnetlab's file of the paper's v1
            name = f"resnet{depth}" + ("_v1" if v1 else "")
            if _fits(name, overrides, state_dict):
                return name, overrides
            break
    base = {k: overrides[k] for k in ("num_classes", "in_chans")}
    for name in list_models():  # the family: wide, ResNeXt, ResNet-C/D, SE, ... by shapes
        if get_spec(name).layers == layers and _fits(name, base, state_dict):
            return name, base
    raise ValueError(f"no registered ResNet has the tensors of this state dict (stages "
                     f"{layers}, bottleneck={bottleneck})")


def _fits(name: str, overrides: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor]
          ) -> bool:
    """Whether NAME built with OVERRIDES has exactly these tensor names and shapes (built on
    the meta device: no memory, a fraction of a second)."""
    with torch.device("meta"):
        own = build_model(name, **overrides).state_dict()
    return own.keys() == state_dict.keys() and all(
        tuple(own[k].shape) == tuple(state_dict[k].shape) for k in own)


def load_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor], what: str = "") -> None:
    """load_state_dict(strict=True) with an error that names the first mismatches."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (first: {', '.join(missing[:5])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (first: {', '.join(unexpected[:5])})")
        if shapes:
            parts.append(f"{len(shapes)} of another shape (first: {'; '.join(shapes[:3])})")
        src = f"{what}: " if what else ""
        raise ValueError(
            f"{src}checkpoint does not fit the model: {'; '.join(parts)}. Is it for another "
            "architecture, or does it need --source conversion?"
        )
    model.load_state_dict(state_dict, strict=True)


def import_checkpoint(
    path: str | Path, source: str, model_name: str | None = None
) -> tuple[nn.Module, str, dict[str, Any]]:
    """Read a foreign checkpoint, convert it, build the matching model and load it strictly.

    torchvision's and timm's bottleneck nets compute the v1.5 form, so they are built with
    stride_in_1x1=False; their outputs then equal the source library's.
    """
    sd = convert_state_dict(read_state_dict(path), source)
    name, overrides = source_architecture(sd, source, model_name)
    model = build_model(name, **overrides)
    load_weights(model, sd, what=str(path))
    return model, name, overrides


def source_architecture(
    state_dict: Mapping[str, torch.Tensor], source: str, model_name: str | None = None
) -> tuple[str, dict[str, Any]]:
    """(model name, overrides) a converted state dict of SOURCE loads into: inferred from
    its keys and shapes (or model_name), with stride_in_1x1=False for torchvision's and
    timm's bottlenecks (v1.5)."""
    name, overrides = infer_architecture(state_dict)
    if model_name is not None:
        name = model_name
    spec = get_spec(name)
    if not spec.residual:
        overrides.pop("shortcut", None)
    if source in ("torchvision", "timm") and spec.block == "bottleneck":
        if spec.kwargs.get("stride_in_1x1"):
            raise ValueError(
                f"{source}'s bottleneck weights are the v1.5 form (stride in the 3x3 conv); "
                f"{name!r} is the paper's v1 (stride in the 1x1), which computes other outputs "
                f"from them: load them into {name.removesuffix('_v1')!r}")
        overrides["stride_in_1x1"] = False
    return name, overrides
