"""The smallest schedule that shows degradation: plain-20 against plain-56 training error
for several iteration counts and seeds, on the quick budget's recipe (lr /10 at 50% and 75%).

    .venv/bin/python benchmarks/degradation_schedule.py --iters 50 100 300 --seeds 3

Runs go through the reproduce run cache (--runs), so `reproduce degradation --budget quick`
reuses the 300-iteration seed-0 runs. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses

from resnetlab.reproduce.budgets import get_budget, run_overrides
from resnetlab.reproduce.runner import RunSpec, execute
from resnetlab.reproduce.verdicts import mean_std


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iters", type=int, nargs="+", default=[50, 100, 300])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--runs", default="results/runs")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    lines = ["| iterations | seed | plain-20 train err | plain-56 train err | gap (points) |",
             "| ---: | ---: | ---: | ---: | ---: |"]
    summary = []
    for iters in args.iters:
        budget = dataclasses.replace(get_budget("quick"), iters=iters)
        extra = {"threads": args.threads, "progress": "off", "tensorboard": False}
        specs = [RunSpec(f"{m}-s{seed}", run_overrides(budget, args.data, m, seed, extra=extra),
                         {"model": m, "seed": seed})
                 for seed in range(args.seeds) for m in ("plain20", "plain56")]
        records = execute(specs, args.runs)
        gaps = []
        for seed in range(args.seeds):
            a, b = (r.tail_mean("train_error") for r in records if r.spec.tags["seed"] == seed)
            gaps.append(b - a)
            lines.append(f"| {iters} | {seed} | {a:.2f} | {b:.2f} | {b - a:+.2f} |")
        mean, std = mean_std(gaps)
        summary.append(f"{iters} iterations: gap {mean:+.2f} ± {std or 0:.2f} points, "
                       f"{sum(g > 0.5 for g in gaps)}/{len(gaps)} seeds above +0.5")
    print("\n".join(lines + [""] + summary))


if __name__ == "__main__":
    main()
