"""Which modern trick buys what (issue 22): a cumulative ablation of ResNet-20, from the
paper-cifar recipe at a fixed length, adding one trick a step: cosine decay with linear
warm-up, label smoothing, mixup/CutMix, TrivialAugmentWide, EMA, then twice the length.
Each step's final test error over seeds, its gain over the step before, and whether that
gain exceeds the seeds' spread: where a trick does not pay at this budget, the report says so.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from resnetlab.analysis.plots import options_figure
from resnetlab.analysis.report import Report, fmt_mean_std
from resnetlab.reproduce.budgets import run_overrides
from resnetlab.reproduce.experiment import Options, group, seeds_of
from resnetlab.reproduce.runner import RunRecord, RunSpec
from resnetlab.reproduce.verdicts import mean_std

TITLE = "Modern training tricks, one at a time (a cumulative ablation)"
PRINT_ETA = True
MODEL = "resnet20"
# The length of every step but the last, per budget: quick is sized so that 3 seeds of the 7
# steps (the last twice as long) take about 3 hours of a 2-core CPU at ~230 images/s.
ITERS = {"smoke": 4, "quick": 800, "paper": 64000}
WARMUP = 0.05  # linear warm-up over this fraction of the run
# (name, what it adds, its overrides on top of the steps before it); "longer" doubles iters
STEPS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("paper", "the paper-cifar recipe (lr /10 at 50% and 75%)", {}),
    ("cosine", "+ cosine decay with linear warm-up", {"schedule": "cosine", "warmup": "linear",
                                                      "warmup_lr": 0.0, "warmup_min_depth": 0,
                                                      "warmup_until_error": None}),
    ("smoothing", "+ label smoothing 0.1", {"label_smoothing": 0.1}),
    ("mixing", "+ mixup 0.2 / CutMix 1.0", {"mixup_alpha": 0.2, "cutmix_alpha": 1.0}),
    ("trivialaugment", "+ TrivialAugmentWide", {"augment": "trivialaugment"}),
    ("ema", "+ EMA 0.999 with warm-up", {"ema": 0.999, "ema_warmup": True}),
    ("longer", "+ twice the iterations", {}),
)


def plan(opts: Options) -> list[RunSpec]:
    budget = dataclasses.replace(opts.plan_budget, iters=ITERS[opts.budget])
    specs, acc = [], {}
    for index, (name, _, overrides) in enumerate(STEPS):
        acc.update(overrides)
        for seed in seeds_of(opts):
            run = {**run_overrides(budget, opts.data, MODEL, seed), **acc}
            if name == "longer":
                run["iters"] *= 2
                run["eval_every"] *= 2
            if run.get("schedule", "step") != "step":  # keys a cosine schedule never reads
                run.pop("milestones")
                run.pop("milestone_unit")
                run["warmup_iters"] = max(1, round(WARMUP * run["iters"]))
            run.update(opts.extra)
            specs.append(RunSpec(f"{MODEL}-tricks{index}-{name}-s{seed}", run,
                                 {"step": name, "index": index, "seed": seed}, "paper-cifar"))
    return specs


def spread_verdict(gain: float | None, std_a: float | None, std_b: float | None,
                   n: int) -> str:
    """"exceeds" when |gain| is above the two steps' stds summed, "within" when not,
    "unknown" with one seed (no spread to compare with)."""
    if gain is None or n < 2 or std_a is None or std_b is None:
        return "unknown"
    return "exceeds" if abs(gain) > std_a + std_b else "within"


def analyze(records: list[RunRecord], opts: Options, report: Report) -> dict[str, Any]:
    about = {name: text for name, text, _ in STEPS}
    rows: list[dict[str, Any]] = []
    for (name,), runs in group(records, "step").items():
        values = [v for v in (r.final("test_error") for r in runs) if v is not None]
        mean, std = mean_std(values)
        prev = rows[-1] if rows else None
        base = rows[0]["mean"] if rows else mean

        def below(a: float | None, b: float | None = mean) -> float | None:
            return None if a is None or b is None else a - b

        gain = below(prev["mean"]) if prev else None
        rows.append({"step": name, "adds": about[name], "values": values, "mean": mean,
                     "std": std, "n": len(values), "gain": gain, "gain_over_paper": below(base),
                     "spread": spread_verdict(gain, prev and prev["std"], std,
                                              min(len(values), prev["n"]) if prev else 0)})
    iters = ITERS[opts.budget]
    report.section(
        "Setup",
        f"ResNet-20 on **{opts.data}**, {opts.seeds} seed(s), batch "
        f"{opts.plan_budget.batch_size}, {iters} iterations a step ({2 * iters} for the "
        f"last), each step adding one trick to all before it; budget **{opts.budget}**"
        + (f" (residual branches zero-initialised: {opts.plan_budget.residual_model_changes})"
           if opts.plan_budget.residual_model_changes else "") + ". Each number is the FINAL "
        "model's test error (%), mean ± sample std over seeds; the gain is the step before's "
        "mean minus this one's (positive: the trick helped), and it counts only when it "
        "exceeds the two steps' stds summed.")
    report.section("Results")
    words = {"exceeds": "yes", "within": "no (within the spread)",
             "unknown": "unknown (one seed)"}
    report.table(["step", "adds", "test error (%)", "gain (points)", "gain over paper",
                  "gain exceeds spread"],
                 [[r["step"], r["adds"], fmt_mean_std(r["mean"], r["std"], r["n"]),
                   "—" if r["gain"] is None else f"{r['gain']:+.2f}",
                   "—" if r["gain_over_paper"] is None else f"{r['gain_over_paper']:+.2f}",
                   "—" if r["gain"] is None else words[r["spread"]]] for r in rows])
    result: dict[str, Any] = {"rows": rows, "figures": []}
    if all(r["values"] for r in rows):
        fig = options_figure({r["step"]: r["values"] for r in rows},
                             report.out_dir / "tricks.png", prefix="")
        report.figure(fig, "Final test error per step (each adds one trick to the ones "
                      "before): every seed a dot, mean ± std a bar.")
        result["figures"].append(fig.name)
    lines = []
    for r in rows[1:]:
        if r["gain"] is None:
            continue
        verdict = ("pays at this budget" if r["gain"] > 0 and r["spread"] == "exceeds" else
                   "costs at this budget" if r["spread"] == "exceeds" else
                   "does not pay beyond the seeds' spread at this budget"
                   if r["spread"] == "within" else "one seed: not judged")
        lines.append(f"- {r['adds']}: {r['gain']:+.2f} points, {verdict}.")
    if lines:
        report.section("Verdict", *lines)
    result["verdicts"] = lines
    return result
