"""Fine-tuning: the init weights of a run (`init`), its architecture, and frozen stages.

    init = read_init(config.init, config.init_source)   # None without an init
    name, overrides = model_for(config.model, init, num_classes, in_chans,
                                config.model_overrides)
    report = init.load_into(model)        # LoadReport: loaded / new tensors
    frozen = freeze_stages(model, config.freeze)

The weights are read once (a published name through the download cache, a run folder or
model file, or a torchvision / timm / Idelbayev checkpoint) and copied strictly: only a
classifier for another class count is replaced (resnetlab.weights.init_from's rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from resnetlab.weights.pretrained import LoadReport, load_state, read_pretrained

STEM = ("conv1", "bn1")
STAGES = ("layer1", "layer2", "layer3", "layer4")


@dataclass
class InitWeights:
    """The weights a run starts from: state dict in resnetlab's names, their metadata, label."""

    state: dict[str, torch.Tensor]
    meta: dict[str, Any]
    label: str

    @property
    def input_size(self) -> list[int] | None:
        size = self.meta.get("input_size")
        return list(size) if size else None

    @property
    def normalization(self) -> dict[str, Any] | None:
        return self.meta.get("normalization")

    def load_into(self, model: nn.Module) -> LoadReport:
        return load_state(model, self.state, self.meta, self.label)


def read_init(source: str | None, source_format: str | None = None) -> InitWeights | None:
    """The init weights of `source` (None when unset); errors name the source and the fix.
    source_format: the checkpoint's naming (the init_source key)."""
    if not source:
        return None
    state, meta, label = read_pretrained(source, source_format=source_format)
    return InitWeights(dict(state), dict(meta), label)


def model_for(model: str, init: InitWeights | None, num_classes: int, in_chans: int,
              model_overrides: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """(registry name, create_model overrides) of the run's model: `model`, or the init
    weights' architecture for model "auto" (and their overrides when the names agree);
    model_overrides (the recipe's) come last."""
    name = model
    overrides: dict[str, Any] = {}
    if name == "auto" and init is None:
        raise ValueError("model=auto takes the architecture of the init weights: set init "
                         "(--init SOURCE, e.g. cifar10-resnet20) or name a model (--model "
                         "resnet20)")
    if init is not None:
        if name == "auto":
            name = init.meta.get("model") or "auto"
            if name == "auto":
                raise ValueError(f"{init.label} does not name its architecture: set --model")
        if name == init.meta.get("model"):
            overrides.update({k: v for k, v in (init.meta.get("overrides") or {}).items()
                              if k not in ("num_classes", "in_chans")})
    overrides.update({"num_classes": num_classes, "in_chans": in_chans})
    overrides.update(model_overrides or {})
    return name, overrides


class _EvalBatchNorm(nn.BatchNorm2d):
    """A BatchNorm that stays in eval mode (running statistics, no updates) whatever
    .train() says: the class a frozen stage's BatchNorms are switched to. Same tensors, so
    the state dict and saved model are unchanged."""

    def train(self, mode: bool = True):
        return super().train(False)


def stages(model: nn.Module) -> list[str]:
    """The model's residual stages (layer1..layer4 that are not Identity)."""
    return [s for s in STAGES if isinstance(getattr(model, s, None), nn.Module)
            and not isinstance(getattr(model, s), nn.Identity)]


def freeze_stages(model: nn.Module, n: int) -> list[str]:
    """Freeze the stem and the first n stages: no gradients, BatchNorm in eval mode.
    Returns the frozen module names; n = 0 freezes nothing; n > the stage count is refused."""
    if n <= 0:
        return []
    have = stages(model)
    if n > len(have):
        raise ValueError(f"freeze={n} exceeds the {len(have)} stages of this model "
                         f"({', '.join(have)}): use 0..{len(have)} (the stem and the first N "
                         "stages are frozen)")
    names = [s for s in STEM if hasattr(model, s)] + have[:n]
    for name in names:
        module = getattr(model, name)
        for p in module.parameters():
            p.requires_grad_(False)
        for m in module.modules():
            if type(m) is nn.BatchNorm2d:
                m.__class__ = _EvalBatchNorm
                m.eval()
    return names
