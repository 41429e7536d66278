"""Gradient norm per block at initialisation: plain, original and pre-activation nets by depth.

Why pre-activation trains 1001 layers (He et al. 2016, "Identity Mappings", Eq. 4-5): with a
clean identity path x_L = x_l + sum F(x_i), so dloss/dx_l = dloss/dx_L (1 + d/dx_l sum F): every
block receives the output's gradient directly. The 2015 net puts a ReLU after each addition and
a plain net has no identity path at all. This measures ||dloss/dx|| at the input of every block
(and at the last block's output), one net per family and depth, in training mode at He
initialisation, and the ratio of the first block's to the output's.

A depth means, per family (FAMILIES): plain and original are the 2015 CIFAR nets, 6n+2 with
basic blocks (164 = 6*27+2 is basic there too); preact is the registry's `preact_resnetD`:
basic 6n+2, except 164 and 1001, the bottleneck 9n+2 nets of Identity Mappings. A depth a
family does not have (1001 is not 6n+2) is skipped and listed as such.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resnetlab.analysis.figures import block_gradients_figure
from resnetlab.analysis.gradients import data_batches
from resnetlab.analysis.report import Report, markdown_table
from resnetlab.io import read_json, write_json
from resnetlab.models.registry import build_model, get_spec

FAMILIES = {  # family: (registry name prefix, what a depth means there)
    "plain": ("plain", "6n+2 basic blocks, no shortcut (He et al. 2015)"),
    "original": ("resnet", "6n+2 basic blocks, post-activation, option A (He et al. 2015)"),
    "preact": ("preact_resnet", "pre-activation (He et al. 2016): 6n+2 basic; 164 and 1001 "
                                "bottleneck 9n+2"),
}


def model_name(family: str, depth: int) -> str:
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}: use {', '.join(FAMILIES)}")
    return f"{FAMILIES[family][0]}{depth}"


def residual_blocks(model: nn.Module) -> list[nn.Module]:
    """The blocks of every stage (layer1..layer4 that are Sequentials), in forward order."""
    stages = [getattr(model, f"layer{i}", None) for i in range(1, 5)]
    blocks = [b for s in stages if isinstance(s, nn.Sequential) for b in s]
    if not blocks:
        raise ValueError("the model has no stages of blocks (layer1..layer4) to measure")
    return blocks


def block_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor
                         ) -> tuple[float, list[float], list[float]]:
    """(loss, ||dloss/dx|| at the input of each block then at the last block's output, and
    the RMS of x itself at the same places: the scale a BN reading x divides the gradient by).

    One backward pass in training mode (BN on the batch's statistics, as SGD sees it). At
    every block boundary the gradient is divided by its norm before it flows on, and the
    norms are multiplied back in log space: backpropagation is linear in the gradient it
    receives, and every path to an earlier block passes that boundary, so the result is
    exact, and a plain net whose gradient grows ~1.4x per block (1e77 over plain-1202's 600
    blocks, past float32's 3e38) is measured in float32. The model's gradients are cleared
    afterwards; its BN running statistics move by one batch.
    """
    blocks = residual_blocks(model)
    norms: dict[int, float] = {}
    rms: dict[int, float] = {}

    def rescale(i: int) -> Callable[[torch.Tensor], torch.Tensor]:
        def hook(grad: torch.Tensor) -> torch.Tensor:
            norms[i] = float(grad.norm())
            return grad / norms[i] if norms[i] > 0 else grad
        return hook

    def at_input(i: int):
        def hook(_m: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            rms[i] = float(args[0].detach().pow(2).mean().sqrt())
            args[0].register_hook(rescale(i))
        return hook

    def at_output(_m: nn.Module, _args: Any, out: torch.Tensor) -> None:
        rms[len(blocks)] = float(out.detach().pow(2).mean().sqrt())
        out.register_hook(rescale(len(blocks)))

    handles = [b.register_forward_pre_hook(at_input(i)) for i, b in enumerate(blocks)]
    handles.append(blocks[-1].register_forward_hook(at_output))
    model.train()
    try:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
    finally:
        for h in handles:
            h.remove()
        model.zero_grad(set_to_none=True)
    steps = [norms.get(i, math.nan) for i in range(len(blocks) + 1)]
    if not all(math.isfinite(v) and v > 0 for v in steps + [float(loss.detach())]):
        raise ValueError("non-finite loss or zero / non-finite gradient norm at initialisation")
    logs = [math.log(v) for v in steps]
    values = [math.exp(sum(logs[i:])) for i in range(len(logs))]
    return float(loss.detach()), values, [rms[i] for i in range(len(blocks) + 1)]


def measure(family: str, depth: int, probe: tuple[torch.Tensor, torch.Tensor],
            classes: int, seed: int) -> dict[str, Any]:
    """One net of FAMILY and DEPTH at He initialisation (seeded): its per-block norms."""
    name = model_name(family, depth)
    spec = get_spec(name)
    t0 = time.time()
    torch.manual_seed(seed)
    net = build_model(name, in_chans=probe[0].shape[1], num_classes=classes)
    loss, norms, rms = block_gradient_norms(net, *probe)
    return {"family": family, "depth": depth, "model": name, "block": spec.block,
            "blocks": len(norms) - 1, "norms": norms, "rms": rms, "loss": loss,
            "first_over_last": norms[0] / norms[-1], "rms_last_over_first": rms[-1] / rms[0],
            "seconds": round(time.time() - t0, 2)}


def compare_families(
    families: Sequence[str], depths: Sequence[int], out: str | Path, data: str = "synthetic",
    batch_size: int = 32, seed: int = 0, root: str | None = None, command: str | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Path, dict[str, Any]]:
    """Measure every (family, depth), write gradients.png, report.md and results.json in OUT.

    Each net's result is kept in OUT/cache/ as it finishes, so a cut-off run loses nothing
    and a re-run only measures what is missing.
    """
    if not families or not depths:
        raise ValueError("name at least one family (plain, original, preact) and one depth")
    for f in families:
        model_name(f, 20)
    out = Path(out)
    report = Report("Gradient norm per block at initialisation: plain, original, "
                    "pre-activation", out, command, cached_runs=False)
    shape, batches = data_batches(data, batch_size, seed, root)
    probe = next(iter(batches()))
    results, skipped = [], []
    for family in families:
        for depth in depths:
            name = model_name(family, depth)
            try:
                get_spec(name)
            except ValueError as e:
                skipped.append({"family": family, "depth": depth, "why": str(e)})
                log(f"{name}: skipped ({e})")
                continue
            cache = out / "cache" / f"{name}-{data}-b{batch_size}-s{seed}.json"
            if cache.is_file():
                results.append(read_json(cache))
                log(f"{name}: cached")
                continue
            r = measure(family, depth, probe, shape[3], seed)
            write_json(cache, r)
            results.append(r)
            log(f"{name}: {r['blocks']} blocks, first/last {r['first_over_last']:.3g}, "
                f"{r['seconds']:.1f} s")
    if not results:
        raise ValueError("no net to measure: " + "; ".join(s["why"] for s in skipped))
    fig = block_gradients_figure(results, out / "gradients.png")
    report.section(
        "Setup",
        f"Data: {data}; one probe batch of {batch_size} images. For each net at He "
        f"initialisation (seed {seed}), in training mode, ‖∂loss/∂x‖₂ at the "
        "input of every block and at the last block's output (normalised at every block "
        "boundary and multiplied back, so no float32 overflow), and the RMS of the block "
        "input x itself. Depth per family: "
        + "; ".join(f"{f}: {FAMILIES[f][1]}" for f in families) + ".")
    report.figure(fig, "Gradient norm per block relative to the output's, input side left; "
                  "right: first block / output against depth.")
    report.section("Summary", markdown_table(*summary_table(results)))
    if skipped:
        report.section("Skipped", "\n".join(f"- {s['family']} {s['depth']}: {s['why']}"
                                            for s in skipped))
    payload = {"data": data, "batch_size": batch_size, "seed": seed, "families": list(families),
               "depths": list(depths), "results": results, "skipped": skipped}
    report.write(payload)
    return out / "report.md", payload


def summary_table(results: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    head = ["family", "depth", "model", "block", "blocks", "‖g‖ first block", "‖g‖ output",
            "first / output", "rms(x) output / first", "seconds"]
    rows = [[r["family"], str(r["depth"]), r["model"], r["block"], str(r["blocks"]),
             f"{r['norms'][0]:.3g}", f"{r['norms'][-1]:.3g}", f"{r['first_over_last']:.3g}",
             f"{r['rms_last_over_first']:.3g}", f"{r['seconds']:.1f}"]
            for r in results]
    return head, rows
