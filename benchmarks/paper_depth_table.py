"""The table of docs/results/gpu-paper-depth-h200/README.md, from the runs' metrics.jsonl.

    python benchmarks/paper_depth_table.py docs/results/gpu-paper-depth-h200/resnet20-s0 \
        docs/results/gpu-paper-depth-h200/resnet56-s0-partial

One row per evaluation both runs reached: each run's test error, and its training error
(augmented batches, in train mode) averaged over the 2,000 iterations before it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read(run: Path) -> tuple[dict[int, float], list[tuple[int, float]]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    tests = {r["iter"]: r["test_error"] for r in rows if "test_error" in r}
    train = [(r["iter"], r["train_error"]) for r in rows if "train_error" in r]
    return tests, train


def window_mean(train: list[tuple[int, float]], end: int, span: int = 2000) -> float:
    vals = [e for it, e in train if end - span < it <= end]
    return sum(vals) / len(vals)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs=2, type=Path)
    args = ap.parse_args()
    (t_a, tr_a), (t_b, tr_b) = (read(r) for r in args.runs)
    a, b = (r.name for r in args.runs)
    print(f"| iteration | {a} test | {b} test | {a} train | {b} train |")
    print("|---:|---:|---:|---:|---:|")
    for it in sorted(set(t_a) & set(t_b)):
        print(f"| {it:,} | {t_a[it]:.2f} | {t_b[it]:.2f} | {window_mean(tr_a, it):.2f} | "
              f"{window_mean(tr_b, it):.2f} |")


if __name__ == "__main__":
    main()
