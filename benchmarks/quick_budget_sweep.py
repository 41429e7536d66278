"""Which short CPU schedule shows the paper's depth claims? A sweep over named schedule
variants on Fashion-MNIST, every run through the reproduce run cache (so a stopped sweep
loses nothing and `reproduce` reuses the runs whose config it shares).

    .venv/bin/python benchmarks/quick_budget_sweep.py --variants zi-2k warmup-2k \
        --models resnet20 resnet56 plain20 plain56 --seeds 1

Each variant is the paper-cifar recipe (SGD momentum 0.9, wd 1e-4, batch 128, step lr
0.1 -> /10 -> /10) with the changes it names. Prints one markdown row per run (final
training error = mean of the logged training error over the last 10% of iterations, final
test error = the final model's, test error at the first lr drop) and, per variant and seed,
whether each claim holds. docs/results/quick-budget-sweep.md keeps the measured tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any

from resnetlab.reproduce.budgets import get_budget, run_overrides
from resnetlab.reproduce.runner import RunRecord, RunSpec, execute

# name -> (iterations, milestone fractions, overrides for every net, overrides for ResNets)
PAPER_WARMUP = {"warmup": "constant", "warmup_lr": 0.01, "warmup_iters": 400,
                "warmup_until_error": 80.0, "warmup_min_depth": 0}
VARIANTS: dict[str, tuple[int, tuple[float, ...], dict[str, Any], dict[str, Any]]] = {
    "paper-1.5k": (1500, (0.5, 0.75), {}, {}),
    "paper-2k": (2000, (0.5, 0.75), {}, {}),
    "late-2k": (2000, (0.75, 0.9), {}, {}),
    "warmup-2k": (2000, (0.5, 0.75), PAPER_WARMUP, {}),
    "zi-2k": (2000, (0.5, 0.75), {}, {"model_overrides": {"zero_init_residual": True}}),
    "zi-1.5k": (1500, (0.5, 0.75), {}, {"model_overrides": {"zero_init_residual": True}}),
    "linwarm-2k": (2000, (0.5, 0.75), {"warmup": "linear", "warmup_lr": 0.0,
                                       "warmup_iters": 200, "warmup_min_depth": 0}, {}),
}


def specs_for(variant: str, models: list[str], seeds: int, data: str,
              runtime: dict[str, Any]) -> list[RunSpec]:
    iters, milestones, common, resnet_only = VARIANTS[variant]
    # The quick budget's length and cadence, without its departure from the paper: each
    # variant names its own changes (zi-2k is the quick budget itself, paper-2k its control).
    budget = dataclasses.replace(get_budget("quick"), iters=iters, milestones=milestones,
                                 evals=4, checkpoint_every=250, log_every=10, changes={},
                                 residual_model_changes={}, why="")
    out = []
    for seed in range(seeds):
        for m in models:
            extra = {**common, **(resnet_only if m.startswith("resnet") else {}), **runtime}
            mo = extra.pop("model_overrides", None)
            out.append(RunSpec(f"{m}-s{seed}", run_overrides(budget, data, m, seed, mo, extra),
                               {"model": m, "seed": seed, "variant": variant}))
    return out


def at_first_drop(r: RunRecord) -> float | None:
    first = min(r.config.get("milestones") or [0])
    pts = [(i, v) for i, v in r.curve("test_error") if i <= first]
    return pts[-1][1] if pts else None


def claims(by_model: dict[str, RunRecord]) -> list[str]:
    def cmp(a: str, b: str, key: str) -> str | None:
        if a not in by_model or b not in by_model:
            return None
        get = (lambda r: r.tail_mean("train_error")) if key == "train" else \
            (lambda r: r.final("test_error"))
        va, vb = get(by_model[a]), get(by_model[b])
        return f"{a}<{b} {key}: {'yes' if va < vb else 'NO'} ({va:.2f} vs {vb:.2f})"

    checks = [cmp("plain20", "plain56", "train"), cmp("plain20", "plain56", "test"),
              cmp("resnet56", "resnet20", "train"), cmp("resnet56", "resnet20", "test"),
              cmp("resnet56", "plain56", "train"), cmp("resnet56", "plain56", "test")]
    return [c for c in checks if c]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", nargs="+", default=["zi-2k"], choices=list(VARIANTS))
    p.add_argument("--models", nargs="+", default=["resnet20", "resnet56"])
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--runs", default="results/runs")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    runtime = {"threads": args.threads, "progress": "off", "tensorboard": False}
    lines = ["| variant | net | seed | train err | test err | test err at 1st drop | "
             "minutes |", "|---|---|---:|---:|---:|---:|---:|"]
    verdicts = []
    t0 = time.time()
    for variant in args.variants:
        records = execute(specs_for(variant, args.models, args.seeds, args.data, runtime),
                          args.runs)
        for seed in range(args.seeds):
            mine = {r.spec.tags["model"]: r for r in records if r.spec.tags["seed"] == seed}
            for m, r in mine.items():
                drop = at_first_drop(r)
                lines.append(f"| {variant} | {m} | {seed} | {r.tail_mean('train_error'):.2f} "
                             f"| {r.final('test_error'):.2f} | "
                             f"{'—' if drop is None else f'{drop:.2f}'} | "
                             f"{r.seconds / 60:.1f} |")
            verdicts.append(f"{variant} seed {seed}: " + "; ".join(claims(mine)))
        print("\n".join(lines + [""] + verdicts), flush=True)
    print(f"\nsweep wall time {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
