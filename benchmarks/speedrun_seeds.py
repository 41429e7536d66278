"""A recipe's final test accuracy and training time over seeds, recipes alternating seed by
seed so that they share the machine's conditions (the speedrun's 5-seed figure, issue 23).

    python benchmarks/speedrun_seeds.py [--recipes speedrun demo] [--seeds 0 1 2 3 4]
        [--threads 2] [--out benchmarks/results/speedrun_seeds.json]

Each run is `resnetlab train --recipe R --seed S` as shipped (its own evaluation settings),
trained afresh into runs/seeds/R-sS. Training time: first step to the final model, its test
included (the last metrics row's wall_time + eval_seconds). Prints one line a run and a
summary a recipe (mean, min, max), and writes the JSON.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from resnetlab.io import write_json
from resnetlab.provenance import machine, versions
from resnetlab.train import fit, load_recipe

DEFAULT_OUT = Path(__file__).parent / "results" / "speedrun_seeds.json"


QUICK = {"subset": 512, "iters": 8, "log_every": 4}  # --quick: a smoke test, seconds


def one_run(recipe: str, seed: int, threads: int, root: Path, quick: bool = False) -> dict:
    overrides = {"seed": seed, "threads": threads, "progress": "off", **(QUICK if quick else {})}
    config = load_recipe(recipe, overrides, rescale=True)
    result = fit(config, root / f"{recipe}-s{seed}", resume=False, force=True)
    last = result.metrics[-1]
    return {"recipe": recipe, "seed": seed,
            "test_accuracy": round(100.0 - result.summary["final"]["test_error"], 2),
            "seconds": round(last["wall_time"] + last.get("eval_seconds", 0.0), 1),
            "threads": result.summary["threads"]}


def summary(runs: list[dict], recipe: str) -> dict:
    acc = [r["test_accuracy"] for r in runs if r["recipe"] == recipe]
    sec = [r["seconds"] for r in runs if r["recipe"] == recipe]
    return {"n": len(acc), "mean_accuracy": round(statistics.mean(acc), 2),
            "min_accuracy": min(acc), "max_accuracy": max(acc),
            "mean_seconds": round(statistics.mean(sec), 1), "max_seconds": max(sec)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipes", nargs="+", default=["speedrun"], help="default: speedrun")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--runs", type=Path, default=Path("runs/seeds"), help="run folders' parent")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON path")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke test: {QUICK['subset']} training images, {QUICK['iters']} steps")
    args = p.parse_args(argv)
    try:
        for recipe in args.recipes:
            load_recipe(recipe)
    except (ValueError, FileNotFoundError) as e:
        print(f"speedrun_seeds: {e}", file=sys.stderr)
        return 2
    runs = []
    for seed in args.seeds:
        for recipe in args.recipes:
            runs.append(one_run(recipe, seed, args.threads, args.runs, args.quick))
            r = runs[-1]
            print(f"{recipe} seed {seed}: {r['test_accuracy']:.2f}% in {r['seconds']:.1f} s "
                  f"({r['threads']} threads)", flush=True)
    result = {"quick": args.quick, "runs": runs,
              "summary": {r: summary(runs, r) for r in args.recipes},
              "machine": machine(), "versions": versions(),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    for recipe, s in result["summary"].items():
        print(f"{recipe}: mean {s['mean_accuracy']:.2f}% (min {s['min_accuracy']:.2f}, max "
              f"{s['max_accuracy']:.2f}) over {s['n']} seeds; mean {s['mean_seconds']:.1f} s, "
              f"max {s['max_seconds']:.1f} s")
    write_json(args.out, result)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
