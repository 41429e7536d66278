"""The experiments by name, and running one: plan, print a measured time estimate, train (or
read back) every run, analyse, write report.md + results.json."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from resnetlab.analysis.report import Report, fmt_seconds
from resnetlab.reproduce import (
    degradation,
    depth,
    overfitting,
    responses,
    shortcuts,
    tricks,
)
from resnetlab.reproduce.budgets import BUDGETS
from resnetlab.reproduce.experiment import Options
from resnetlab.reproduce.queue import estimate, measure_speed, plan_runs, plan_table
from resnetlab.reproduce.runner import RunSpec, execute

# Each module has TITLE, plan(opts) -> [RunSpec] and analyze(records, opts, report) -> dict;
# one with budgets of its own has BUDGETS (else reproduce.budgets'), one that needs several
# seeds to say anything has SEEDS (the default of --seeds; else 1).
EXPERIMENTS = {"degradation": degradation, "shortcuts": shortcuts, "depth": depth,
               "responses": responses, "tricks": tricks, "overfitting": overfitting}


def budgets_of(module: ModuleType) -> dict[str, Any]:
    return getattr(module, "BUDGETS", BUDGETS)


def experiment(name: str, budget: str) -> ModuleType:
    """The experiment module, after checking that it has that budget (one line if not)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}: use one of {', '.join(EXPERIMENTS)}")
    module = EXPERIMENTS[name]
    if budget not in budgets_of(module):
        raise ValueError(f"unknown budget {budget!r} for {name}: use one of "
                         f"{', '.join(budgets_of(module))}")
    return module


def run_experiment(
    name: str, opts: Options, log: Callable[[str], None] = print,
    speed: Callable[..., float] = measure_speed, dry_run: bool = False, **execute_kw: Any
) -> tuple[Path | None, dict[str, Any]]:
    """Plan, print the measured estimate, train (or read back) every run, analyse, and write
    report.md + results.json. dry_run: stop after the estimate (nothing trained or written)."""
    module = experiment(name, opts.budget)
    t0 = time.time()
    specs: list[RunSpec] = module.plan(opts)
    runs = opts.runs_dir(name)
    planned = plan_runs(specs, runs, name, opts.force)
    todo = sum(p.status != "cached" for p in planned)
    log(f"{name}: {len(specs)} runs ({len(specs) - todo} cached, {todo} to train or resume), "
        f"budget {opts.budget}, data {opts.data}, {opts.seeds} seed(s), runs in {runs}")
    if todo:
        log("measuring each net's speed on this machine (a few training steps):")
    estimate(planned, opts.data, speed, log)
    total = sum(p.seconds for p in planned)
    log(plan_table(planned))
    log(f"estimated training time: {fmt_seconds(total)} (ETA "
        f"{time.strftime('%H:%M', time.localtime(time.time() + total))})")
    if dry_run:
        return None, {"runs": [{"label": p.spec.label, "status": p.status,
                                "estimated_seconds": p.seconds} for p in planned],
                      "estimated_seconds": total}
    out = opts.out_dir(name)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(module.TITLE, out, opts.command)
    records = execute(specs, runs, force=opts.force, log=log, **execute_kw)
    results = module.analyze(records, opts, report)
    results = {
        "experiment": name,
        "data": opts.data,
        "budget": opts.budget,
        "seeds": opts.seeds,
        "runs": [{"label": r.spec.label, "tags": r.spec.tags, "dir": str(r.out_dir),
                  "status": r.status, "seconds": r.seconds,
                  "estimated_seconds": p.seconds} for r, p in zip(records, planned)],
        **results,
        "seconds": time.time() - t0,
    }
    path = report.write(results)
    log(f"{name}: report in {path}")
    return path, results
