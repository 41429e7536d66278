"""`resnetlab reproduce all`: the four experiments on one run cache, so that no net is
trained twice; a plan with a time estimate measured on this machine; one training queue with
overall progress; the experiments' reports; and an index of every claim with its verdict.

Sharing falls out of the cache: degradation's ResNets are the depth table's runs (same label,
same config), responses reads degradation's nets, and shortcut option A is the depth table's
net at the same depth. A run cut off resumes; a finished one is read back.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from resnetlab.analysis.report import Report, fmt_seconds, markdown_table
from resnetlab.bench.train import bench_train
from resnetlab.io import atomic_write_text
from resnetlab.reproduce.budgets import BUDGETS, is_folder
from resnetlab.reproduce.claims import claims, verdict_cell
from resnetlab.reproduce.degradation import DEPTHS as DEGRADATION_DEPTHS
from resnetlab.reproduce.experiment import Options, budget_paragraph
from resnetlab.reproduce.experiments import EXPERIMENTS, run_experiment
from resnetlab.reproduce.queue import (
    SHAPES,
    Planned,
    estimate,
    measure_speed,
    plan_table,
    planned_run,
    train_queue,
)
from resnetlab.reproduce.runner import RunRecord, read_json
from resnetlab.train.config import TrainConfig
from resnetlab.train.run_folder import read_config

# Order of training and of the reports: depth first, so that its nets (ResNet-20 … 56) are
# the ones degradation, shortcuts (option A) and responses then find in the cache.
ORDER = ("depth", "degradation", "shortcuts", "responses")
TITLE = "The paper's claims, reproduced (index)"
COMPILE_CHOICES = ("auto", "on", "off")


@dataclass
class CompileChoice:
    use: bool
    reason: str
    measured: dict[str, Any] = field(default_factory=dict)


def sub_options(opts: Options, name: str) -> Options:
    """The options of one experiment of the suite: its report in OUT/<name>/, the shared
    run cache."""
    return dataclasses.replace(opts, out=suite_dir(opts) / name, runs=runs_dir(opts),
                               depths=None, models=None)


def suite_dir(opts: Options) -> Path:
    tag = Path(opts.data).name if is_folder(opts.data) else opts.data
    return Path(opts.out or Path("results") / f"all-{tag}-{opts.budget}")


def runs_dir(opts: Options) -> Path:
    return Path(opts.runs or suite_dir(opts).parent / "runs")


def plan_suite(opts: Options) -> list[Planned]:
    """Every experiment's runs, each unique run once (in ORDER), with its cache status."""
    planned: dict[Path, Planned] = {}
    for name in ORDER:
        for spec in EXPERIMENTS[name].plan(sub_options(opts, name)):
            p = planned_run(spec, runs_dir(opts), name)
            if p.out_dir in planned:
                planned[p.out_dir].experiments.append(name)
            else:
                planned[p.out_dir] = p
    return list(planned.values())


def decide_compile(opts: Options, planned: list[Planned], choice: str,
                   speeds: dict[tuple[str, str], float],
                   log: Callable[[str], None] = print) -> CompileChoice:
    """torch.compile for the runs to train: on or off as asked, or (auto) when the measured
    speed-up over the queue pays back the measured compile time of every run."""
    if choice in ("on", "off"):
        return CompileChoice(choice == "on", f"--compile {choice}")
    todo = [p for p in planned if p.status != "cached"]
    if not todo:
        used = [bool(read_config(p.out_dir).get("compile")) for p in planned]
        return CompileChoice(False, f"nothing to train; the cached runs were trained with "
                                    f"compile on in {sum(used)} of {len(used)} (their "
                                    "config.yaml)")
    if opts.budget == "smoke":
        return CompileChoice(False, "smoke runs last seconds, less than a compilation")
    probe = max(todo, key=lambda p: p.seconds)
    cache = runs_dir(opts) / "compile-measurement.json"
    ident = {"model": probe.config.model, "torch": torch.__version__,
             "threads": torch.get_num_threads(), "data": opts.data,
             "batch_size": probe.config.batch_size}
    measured = read_json(cache) if cache.is_file() else {}
    if measured.get("ident") != ident:
        log(f"  measuring torch.compile on {probe.config.model} (once; kept in {cache})")
        channels, size, classes, _ = SHAPES.get(opts.data, (3, probe.config.image_size, 10, 0))
        eager = speeds.get(probe.key) or measure_speed(probe.config, opts.data)
        compiled = bench_train(probe.config.model, probe.config.batch_size, steps=5, rounds=1,
                               image_size=size, channels=channels, num_classes=classes,
                               config=dataclasses.replace(probe.config, compile=True),
                               baseline=False, overrides=probe.config.model_overrides,
                               matmul=False)
        measured = {"ident": ident, "eager_images_per_second": eager,
                    "compiled_images_per_second": compiled["images_per_second"],
                    "compile_seconds": compiled["warmup_seconds"]}
        runs_dir(opts).mkdir(parents=True, exist_ok=True)
        atomic_write_text(cache, json.dumps(measured, indent=2) + "\n")
    ratio = measured["compiled_images_per_second"] / measured["eager_images_per_second"]
    saved = sum(p.seconds * (1 - 1 / ratio) for p in todo)
    cost = measured["compile_seconds"] * len(todo)
    use = saved > cost
    reason = (f"measured on {probe.config.model}: compiled step {ratio:.2f}x the eager one, "
              f"{measured['compile_seconds']:.0f} s to compile; over the {len(todo)} runs to "
              f"train it would save ~{fmt_seconds(max(saved, 0))} and cost "
              f"~{fmt_seconds(cost)} of compilation, so compile is "
              f"{'on' if use else 'off'}")
    return CompileChoice(use, reason, measured)


def runs_table(planned: list[Planned], records: list[RunRecord]) -> str:
    """The index's table of runs: what this call did with each (the plan's state is
    "cached" for all of them once the queue has trained) and each run's measured training
    time beside the estimate made before it."""
    rows = []
    for p, r in zip(planned, records):
        estimated = "—" if r.status == "cached" else fmt_seconds(p.seconds)
        rows.append([p.spec.label, ", ".join(p.experiments), r.status, estimated,
                     fmt_seconds(r.seconds)])
    return markdown_table(["run", "used by", "this call", "estimated", "training time"],
                          rows, "lllrr")


def run_suite(opts: Options, compile_choice: str = "auto",
              log: Callable[[str], None] = print,
              speed: Callable[[TrainConfig, str], float] = measure_speed,
              dry_run: bool = False) -> tuple[Path | None, dict[str, Any]]:
    """Plan, estimate, train the queue, write every experiment's report and the index.
    dry_run: stop after the plan and the estimate (nothing is trained or written)."""
    if compile_choice not in COMPILE_CHOICES:
        raise ValueError(f"--compile takes one of {', '.join(COMPILE_CHOICES)}, "
                         f"got {compile_choice!r}")
    if opts.budget not in BUDGETS:
        raise ValueError(f"unknown budget {opts.budget!r} for all: use one of "
                         f"{', '.join(BUDGETS)}")
    if opts.depths or opts.models:
        raise ValueError("reproduce all runs each experiment at its own depths and nets: "
                         "drop --depths/--models, or run that experiment alone")
    t0 = time.time()
    out = suite_dir(opts)
    planned = plan_suite(opts)
    cached = sum(p.status == "cached" for p in planned)
    log(f"reproduce all: {len(planned)} unique runs for {', '.join(ORDER)} "
        f"({cached} cached, {len(planned) - cached} to train or resume); budget "
        f"{opts.budget}, data {opts.data}, {opts.seeds} seed(s), run cache {runs_dir(opts)}")
    if cached < len(planned):
        log("measuring each net's speed on this machine (a few training steps):")
    speeds = estimate(planned, opts.data, speed, log)
    choice = decide_compile(opts, planned, compile_choice, speeds, log)
    log(plan_table(planned))
    total = sum(p.seconds for p in planned)
    log(f"estimated training time: {fmt_seconds(total)} (ETA "
        f"{time.strftime('%H:%M', time.localtime(time.time() + total))}); torch.compile "
        f"{'on' if choice.use else 'off'}: {choice.reason}")
    if dry_run:
        return None, {"runs": [{"label": p.spec.label, "status": p.status,
                                "estimated_seconds": p.seconds} for p in planned],
                      "estimated_seconds": total, "compile": dataclasses.asdict(choice)}
    records = train_queue(planned, choice.use, log)
    results: dict[str, dict] = {}
    links: dict[str, str] = {}
    for name in ORDER:
        path, res = run_experiment(name, sub_options(opts, name), log=lambda s: None)
        results[name] = res
        links[name] = f"{name}/{path.name}"
    table = claims(records, results, list(range(opts.seeds)), DEGRADATION_DEPTHS[opts.budget])
    report = Report(TITLE, out, opts.command)
    report.section("Setup", budget_paragraph(opts),
                   "Every claim is judged in every seed: a row *holds* when the claimed "
                   "direction is seen in each seed (the margins are in results.json). "
                   "Training error: the mean of the logged training error over the last 10% "
                   "of iterations; test error: the final model's (never chosen on test).",
                   f"torch.compile: {'on' if choice.use else 'off'} ({choice.reason}).")
    report.section("Claims")
    report.table(["claim", "paper", "this run", "verdict", "report"],
                 [[c["claim"], c["paper"], c["this_run"], verdict_cell(c),
                   f"[{c['link']}]({links[c['link']]})"] for c in table], "lllll")
    trained = [r for r in records if r.status != "cached"]
    report.section("Runs", runs_table(planned, records),
                   f"{len(planned)} unique runs ({len(trained)} trained or resumed by this "
                   f"call, {len(planned) - len(trained)} read from the cache); measured "
                   f"training time of all {fmt_seconds(sum(r.seconds for r in records))}, of "
                   f"this call's {fmt_seconds(sum(r.seconds for r in trained))}. A resumed "
                   "run's time counts its earlier parts too.")
    held = sum(c["status"] in ("holds", "exceeds") for c in table)
    log(f"{held} of {len(table)} claims hold in every seed; index in {out / 'index.md'}")
    payload = {"experiment": "all", "data": opts.data, "budget": opts.budget,
               "seeds": opts.seeds, "claims": table, "compile": dataclasses.asdict(choice),
               "runs": [{"label": p.spec.label, "dir": str(p.out_dir),
                         "experiments": p.experiments, "status": r.status,
                         "seconds": r.seconds, "estimated_seconds": p.seconds}
                        for p, r in zip(planned, records)],
               "reports": links, "seconds": time.time() - t0}
    return report.write(payload, name="index.md"), payload
