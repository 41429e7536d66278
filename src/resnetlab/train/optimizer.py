"""The optimizer: SGD with momentum, torch's AdamW, or LAMB / LARS for large batches, over
parameter groups with weight decay off where excluded.

torch has neither LAMB nor LARS; these follow the papers' update rules, with timm's
conventions for the options. Both scale each tensor's step by a trust ratio
||w|| / ||update||; a parameter group without weight decay (norms and biases under
`wd_exclude`) is not adapted unless always_adapt, and trust_clip caps the ratio (LAMB: at 1;
LARS: the adapted lr at the global one, NVIDIA's LARC "clip" mode).
"""

from __future__ import annotations

import torch
from torch import nn

NORM_TYPES = (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.SyncBatchNorm)
OPTIMIZERS = ("sgd", "adamw", "lamb", "lars")


def param_groups(model: nn.Module, weight_decay: float, exclude: list[str]) -> list[dict]:
    """Parameters split into decayed and not decayed (norm weights/biases, biases) groups."""
    skip = set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if ("norm" in exclude and isinstance(module, NORM_TYPES)) or (
                    "bias" in exclude and name == "bias"):
                skip.add(id(p))
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if id(p) not in skip]
    rest = [p for p in params if id(p) in skip]
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    return groups


def _trust(w_norm: torch.Tensor, u_norm: torch.Tensor) -> torch.Tensor:
    """w_norm / u_norm, or 1 where either norm is 0 (a fresh zero tensor, a zero step)."""
    ok = (w_norm > 0) & (u_norm > 0)
    return torch.where(ok, w_norm / torch.where(ok, u_norm, 1.0), 1.0)


class _PerTensor(torch.optim.Optimizer):
    """An optimiser whose step updates each parameter with a gradient by self.update."""

    def update(self, p: torch.Tensor, group: dict, state: dict) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(p, group, self.state[p])
        return loss


class Lamb(_PerTensor):
    """LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning", Algorithm 2):
    Adam's bias-corrected step r = m̂ / (sqrt(v̂) + eps), u = r + weight_decay * w, and
    w <- w - lr * (||w|| / ||u||) * u. timm's global gradient clipping is not built in: the
    `grad_clip` key clips before any optimiser."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.01, trust_clip: bool = False,
                 always_adapt: bool = False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        trust_clip=trust_clip, always_adapt=always_adapt)
        super().__init__(params, defaults)

    def update(self, p: torch.Tensor, group: dict, state: dict) -> None:
        beta1, beta2 = group["betas"]
        wd = group["weight_decay"]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        t = state["step"].item()
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
        denom = (v / (1 - beta2 ** t)).sqrt_().add_(group["eps"])
        update = (m / (1 - beta1 ** t)).div_(denom)
        if wd:
            update.add_(p, alpha=wd)
        if wd or group["always_adapt"]:
            ratio = _trust(p.norm(), update.norm())
            if group["trust_clip"]:
                ratio = ratio.clamp(max=1.0)
            update.mul_(ratio)
        p.add_(update, alpha=-group["lr"])


class Lars(_PerTensor):
    """LARS (You et al. 2017, "Large Batch Training of Convolutional Networks", Algorithm 1):
    local lr l = trust_coefficient * ||w|| / (||g|| + weight_decay * ||w||),
    v <- momentum * v + lr * l * (g + weight_decay * w), w <- w - v. The method is defined
    with momentum, so momentum must be in (0, 1)."""

    def __init__(self, params, lr: float = 1.0, momentum: float = 0.9,
                 weight_decay: float = 0.0, trust_coefficient: float = 0.001,
                 eps: float = 1e-8, trust_clip: bool = False, always_adapt: bool = False):
        if not 0 < momentum < 1:
            raise ValueError(f"optimizer lars needs momentum in (0, 1) (You et al. 2017 use "
                             f"0.9), got momentum {momentum}")
        if trust_coefficient <= 0:
            raise ValueError(f"trust_coefficient must be > 0, got {trust_coefficient}")
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                        trust_coefficient=trust_coefficient, eps=eps, trust_clip=trust_clip,
                        always_adapt=always_adapt)
        super().__init__(params, defaults)

    def update(self, p: torch.Tensor, group: dict, state: dict) -> None:
        wd, lr = group["weight_decay"], group["lr"]
        g = p.grad.add(p, alpha=wd) if wd else p.grad.clone()
        scale = torch.tensor(1.0, device=p.device)
        if wd or group["always_adapt"]:
            w_norm = p.norm()
            scale = group["trust_coefficient"] * _trust(
                w_norm, p.grad.norm() + wd * w_norm + group["eps"])
            scale = torch.where(w_norm > 0, scale, 1.0)
            if group["trust_clip"]:
                scale = (scale / lr).clamp(max=1.0)
        g.mul_(scale * lr)
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = g
        else:
            state["momentum_buffer"].mul_(group["momentum"]).add_(g)
        p.sub_(state["momentum_buffer"])


def make_optimizer(name: str, groups: list[dict], *, lr: float, momentum: float = 0.9,
                   nesterov: bool = False, betas=(0.9, 0.999), eps: float | None = None,
                   trust_coefficient: float = 0.001, trust_clip: bool = False,
                   always_adapt: bool = False) -> torch.optim.Optimizer:
    """The optimiser `name` over param groups that carry their own weight_decay (the
    wd_exclude split): "sgd" (momentum, nesterov; foreach), "adamw" (torch's, decoupled
    decay), "lamb" (betas, eps), "lars" (momentum, trust_coefficient). eps None: the
    optimiser's own default (AdamW 1e-8, LAMB 1e-6 as the paper)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer {name!r} is unknown; choose from {', '.join(OPTIMIZERS)}")
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov, foreach=True)
    if nesterov:
        raise ValueError(f"nesterov applies to optimizer sgd only, not {name}")
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps or 1e-8)
    if name == "lamb":
        return Lamb(groups, lr=lr, betas=betas, eps=eps or 1e-6, trust_clip=trust_clip,
                    always_adapt=always_adapt)
    return Lars(groups, lr=lr, momentum=momentum, trust_coefficient=trust_coefficient,
                trust_clip=trust_clip, always_adapt=always_adapt)


def build_optimizer(model: nn.Module, lr: float, momentum: float, weight_decay: float,
                    nesterov: bool = False, wd_exclude: list[str] | tuple[str, ...] = (), *,
                    name: str = "sgd", **options) -> torch.optim.Optimizer:
    """Optimizer `name` (make_optimizer, with its options) over param_groups; wd_exclude
    ("norm", "bias") names the parameters kept free of weight decay."""
    groups = param_groups(model, weight_decay, list(wd_exclude))
    return make_optimizer(name, groups, lr=lr, momentum=momentum, nesterov=nesterov, **options)
