"""`analyze gradients` end to end: profile registry nets or model files, write a figure, a
table and gradients.json. Is the gradient at the first layers of a deep plain net (with
BN) vanishing, and what does the identity path change?"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from resnetlab.analysis.gradients import GradientProfile, data_batches, gradient_profile
from resnetlab.analysis.plots import gradients_figure
from resnetlab.checkpoint import load_model
from resnetlab.models.registry import create_model
from resnetlab.reproduce.report import Report


def build(model: str, shape: tuple[int, int, int, int], seed: int) -> torch.nn.Module:
    """A registry name at He init (seeded) for this data, or a trained model file."""
    path = Path(model)
    if path.suffix == ".safetensors" or path.is_dir():
        net, meta = load_model(path)
        if list(meta.get("input_size") or [])[:1] not in ([], [shape[0]]):
            raise ValueError(f"{model} takes {meta['input_size'][0]}-channel images but the "
                             f"data has {shape[0]}")
        return net

    torch.manual_seed(seed)
    return create_model(model, in_chans=shape[0], num_classes=shape[3])


def profile_models(
    models: Sequence[str], data: str = "synthetic", steps: int = 50, batch_size: int = 128,
    lr: float = 0.1, seed: int = 0, root: str | None = None, log: Callable[[str], None] = print,
) -> list[GradientProfile]:
    if not models:
        raise ValueError("name at least one model, e.g. plain56 resnet56")
    shape, batches = data_batches(data, batch_size, seed, root)
    probe = next(iter(batches()))
    out = []
    for name in models:
        t0 = time.time()
        net = build(name, shape, seed)
        out.append(gradient_profile(net, Path(name).stem if Path(name).suffix else name,
                                    probe, batches, steps, lr=lr))
        log(f"{name}: {time.time() - t0:.1f} s")
    return out


def table(profiles: Sequence[GradientProfile]) -> tuple[list[str], list[list[str]]]:
    head = ["model", "convs", "first conv (init)", "last conv (init)", "first/last (init)",
            "first/last (after k)", "loss init → after"]
    rows = [[p.name, str(len(p.layers)), f"{p.summary['init_first']:.3g}",
             f"{p.summary['init_last']:.3g}", f"{p.summary['init_first_over_last']:.3g}",
             f"{p.summary['after_first_over_last']:.3g}",
             f"{p.loss_init:.3f} → {p.loss_after:.3f}"] for p in profiles]
    return head, rows


def reading(profiles: Sequence[GradientProfile]) -> list[str]:
    """Plain facts from the numbers: ratio first/last per model, plain against residual."""
    lines = []
    for p in profiles:
        for when in ("init", "after"):
            r = p.summary[f"{when}_first_over_last"]
            trend = ("shrinks" if r < 0.5 else "grows" if r > 2 else "keeps its size")
            lines.append(f"- {p.name} ({'residual' if p.residual else 'plain'}), "
                         f"{'at init' if when == 'init' else f'after {p.steps} steps'}: the "
                         f"gradient norm {trend} from the last conv to the first "
                         f"(first/last = {r:.3g}; spread over layers "
                         f"{p.summary[f'{when}_log10_spread']:.2f} decades).")
    return lines


def analyze_gradients(
    models: Sequence[str], out: str | Path, data: str = "synthetic", steps: int = 50,
    batch_size: int = 128, lr: float = 0.1, seed: int = 0, root: str | None = None,
    command: str | None = None, log: Callable[[str], None] = print,
) -> tuple[Path, list[GradientProfile]]:
    out = Path(out)
    report = Report("Gradient norm per layer: plain against residual", out, command,
                    cached_runs=False)
    profiles = profile_models(models, data, steps, batch_size, lr, seed, root, log)
    fig = gradients_figure([p.to_dict() for p in profiles], out / "gradients.png")
    report.section("Setup",
                   f"Data: {data}; one fixed probe batch of {batch_size} images measures "
                   f"‖∂loss/∂W‖₂ of every convolution in training mode (BN on batch "
                   f"statistics), at He initialisation (seed {seed}) and after {steps} SGD "
                   f"steps (lr {lr}, momentum 0.9, weight decay 1e-4).")
    report.figure(fig, "Gradient norm per convolution, input side left; dashed: plain, "
                  "solid: residual.")
    head, rows = table(profiles)
    report.section("Summary")
    report.table(head, rows, align="l" + "r" * (len(head) - 2) + "l")
    report.section("Reading", "\n".join(reading(profiles)))
    report.write({"data": data, "steps": steps, "batch_size": batch_size, "lr": lr,
                  "seed": seed, "profiles": [p.to_dict() for p in profiles]})
    return out / "report.md", profiles

