"""Sizes and internal responses of a network: parameter counts, MACs, layer responses."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import conv_flop_count

from resnetlab.models.blocks import BasicBlock, Bottleneck


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_size: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass: convolutions and fc, as the paper counts.

    Uses torch.utils.flop_counter's conv formula (FLOPs = 2 x MACs) from forward hooks on a
    real CPU pass: FlopCounterMode gives the same totals (the tests check) but its per-op
    dispatch makes a ResNet-1202 take seconds instead of a fraction of one.
    """
    total = 0

    def conv_hook(m: nn.Conv2d, inp, out) -> None:
        nonlocal total
        total += conv_flop_count(
            list(inp[0].shape), list(m.weight.shape), list(out.shape), transposed=False
        ) // 2

    def linear_hook(m: nn.Linear, inp, out) -> None:
        nonlocal total
        total += inp[0].numel() // inp[0].shape[-1] * m.in_features * m.out_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(input_size, device=next(model.parameters()).device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total


def response_layers(model: nn.Module, kind: str = "3x3") -> dict[str, nn.Module]:
    """The BN layers whose outputs are the paper's Fig. 7 "responses".

    kind="3x3": the BN after every 3x3 conv (the stem's too), as the paper measures.
    kind="branch": the last BN of every block, i.e. the residual branch F(x) just before
    the addition.
    """
    if kind not in ("3x3", "branch"):
        raise ValueError(f"unknown response kind {kind!r}: use '3x3' or 'branch'")
    if getattr(model, "preact", False):
        raise ValueError("Fig. 7's responses are the BN outputs after the 3x3 convs of "
                         "post-activation blocks; a pre-activation net's BNs normalise each "
                         "block's input instead: measure a post-activation net")
    out: dict[str, nn.Module] = {}
    stem = getattr(model, "conv1", None)
    if kind == "3x3" and isinstance(stem, nn.Conv2d) and stem.kernel_size == (3, 3):
        out["bn1"] = model.bn1
    for name, m in model.named_modules():
        if isinstance(m, (BasicBlock, Bottleneck)):
            if kind == "branch":
                out[f"{name}.{'bn2' if isinstance(m, BasicBlock) else 'bn3'}"] = m.last_bn()
            elif isinstance(m, BasicBlock):
                out[f"{name}.bn1"] = m.bn1
                out[f"{name}.bn2"] = m.bn2
            else:
                out[f"{name}.bn2"] = m.bn2
    return out


@torch.no_grad()
def collect_responses(
    model: nn.Module, x: torch.Tensor, kind: str = "3x3"
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Run one forward pass and return (logits, {layer name: response tensor}).

    Responses are copied as they leave the BN, before any ReLU or addition touches them.
    """
    layers = response_layers(model, kind)
    captured: dict[str, torch.Tensor] = {}
    handles = []
    for name, layer in layers.items():
        def hook(_m, _inp, output, name=name):
            captured[name] = output.detach().clone()
        handles.append(layer.register_forward_hook(hook))
    try:
        logits = model(x)
    finally:
        for h in handles:
            h.remove()
    return logits, captured
