"""The paper's four experiments by name, and running one: plan, train (or read back) every
run, analyse, write report.md + results.json."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resnetlab.analysis.report import Report
from resnetlab.reproduce import degradation, depth, responses, shortcuts, tricks
from resnetlab.reproduce.experiment import Options, measured_eta
from resnetlab.reproduce.runner import RunSpec, execute

# Each module has TITLE, plan(opts) -> [RunSpec] and analyze(records, opts, report) -> dict.
EXPERIMENTS = {"degradation": degradation, "shortcuts": shortcuts, "depth": depth,
               "responses": responses, "tricks": tricks}


def run_experiment(
    name: str, opts: Options, log: Callable[[str], None] = print, **execute_kw: Any
) -> tuple[Path, dict[str, Any]]:
    """Plan, train (or read back) every run, analyse, and write report.md + results.json."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}: use one of {', '.join(EXPERIMENTS)}")
    module = EXPERIMENTS[name]
    t0 = time.time()
    specs: list[RunSpec] = module.plan(opts)
    out = opts.out_dir(name)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(module.TITLE, out, opts.command)
    log(f"{name}: {len(specs)} runs, budget {opts.budget}, data {opts.data}, "
        f"runs in {opts.runs_dir(name)}")
    if getattr(module, "PRINT_ETA", False):  # measured before any training starts
        log(f"{name}: {measured_eta(specs, opts.runs_dir(name), opts.data)[1]}")
    records = execute(specs, opts.runs_dir(name), force=opts.force, log=log, **execute_kw)
    results = module.analyze(records, opts, report)
    results = {
        "experiment": name,
        "data": opts.data,
        "budget": opts.budget,
        "seeds": opts.seeds,
        "runs": [{"label": r.spec.label, "tags": r.spec.tags, "dir": str(r.out_dir),
                  "status": r.status, "seconds": r.seconds} for r in records],
        **results,
        "seconds": time.time() - t0,
    }
    path = report.write(results)
    log(f"{name}: report in {path}")
    return path, results
