"""A plan of training runs with a time estimate measured on this machine, and the queue
that trains them with overall progress: what `reproduce all` and each experiment print
before they train (a few steps of each distinct net are timed, cached runs cost nothing).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from resnetlab.analysis.report import fmt_seconds, markdown_table
from resnetlab.bench.train import bench_train
from resnetlab.reproduce.runner import (
    RunRecord,
    RunSpec,
    build_config,
    execute,
    is_complete,
    read_json,
    run_folder,
)
from resnetlab.train.config import TrainConfig

# (channels, size, classes, test images) of the built-in sets, for the time estimate.
SHAPES = {"mnist": (1, 28, 10, 10000), "fashion-mnist": (1, 28, 10, 10000),
          "cifar10": (3, 32, 10, 10000), "cifar100": (3, 32, 100, 10000)}


@dataclass
class Planned:
    """One unique training run of a plan and what it costs."""

    spec: RunSpec
    config: TrainConfig
    out_dir: Path
    experiments: list[str]
    done_iters: int = 0
    seconds: float = 0.0  # estimated seconds still to train (0 when cached)
    force: bool = False  # retrained even when complete (--force)

    @property
    def status(self) -> str:
        if self.force:
            return "train"
        if is_complete(self.out_dir):
            return "cached"
        return "resume" if self.done_iters else "train"

    @property
    def key(self) -> tuple[str, str]:
        shortcut = self.config.model_overrides.get("shortcut", "")
        return self.config.model, str(shortcut)


def plan_runs(specs: Sequence[RunSpec], runs_dir: Path, experiment: str,
              force: bool = False) -> list[Planned]:
    """One experiment's runs with their cache status (a run cut off: the iterations done)."""
    return [planned_run(spec, runs_dir, experiment, force) for spec in specs]


def planned_run(spec: RunSpec, runs_dir: Path, experiment: str, force: bool = False
                ) -> Planned:
    config = build_config(spec)
    p = Planned(spec, config, run_folder(runs_dir, spec, config), [experiment], force=force)
    summary = p.out_dir / "summary.json"
    if summary.is_file() and not is_complete(p.out_dir) and not force:
        p.done_iters = int(read_json(summary).get("iters") or 0)
    return p


def measure_speed(config: TrainConfig, data: str, steps: int = 3) -> float:
    """Training images/s of one net on this machine now: a few engine steps (after a
    warm-up) at the run's batch, input shape, precision and memory format."""
    channels, size, classes, _ = SHAPES.get(data, (3, config.image_size, 10, 0))
    probe = dataclasses.replace(config, compile=False)
    r = bench_train(config.model, config.batch_size, steps=steps, rounds=1, image_size=size,
                    channels=channels, num_classes=classes, config=probe, baseline=False,
                    overrides=config.model_overrides, matmul=False)
    return float(r["images_per_second"])


def estimate(planned: list[Planned], data: str,
             speed: Callable[[TrainConfig, str], float] = measure_speed,
             log: Callable[[str], None] = print) -> dict[tuple[str, str], float]:
    """Fill in each run's estimated seconds from a measured speed per distinct net."""
    speeds: dict[tuple[str, str], float] = {}
    test_images = SHAPES.get(data, (0, 0, 0, 0))[3]
    for p in planned:
        if p.status == "cached":
            continue
        if p.key not in speeds:
            speeds[p.key] = speed(p.config, data)
            log(f"  measured {p.key[0]}{'-' + p.key[1] if p.key[1] else ''}: "
                f"{speeds[p.key]:.0f} training images/s")
        ips = speeds[p.key]
        total = p.config.iters or 0
        left = max(total - p.done_iters, 0)
        evals = left / max(p.config.eval_every, 1)
        # an evaluation is a forward pass only: about a third of a training step per image
        p.seconds = left * p.config.batch_size / ips + evals * test_images / (3 * ips)
    return speeds


def plan_table(planned: list[Planned]) -> str:
    rows = []
    for p in planned:
        state = {"cached": "cached", "resume": f"resume at {p.done_iters}",
                 "train": "to train"}[p.status]
        rows.append([p.spec.label, ", ".join(p.experiments), state,
                     "—" if p.status == "cached" else fmt_seconds(p.seconds)])
    return markdown_table(["run", "used by", "state", "estimated time"], rows, "llll")


def train_queue(planned: list[Planned], compile_on: bool | None = None,
                log: Callable[[str], None] = print, **execute_kw) -> list[RunRecord]:
    """Train (or read back) every unique run, printing the run count and overall ETA;
    compile_on: torch.compile for every run to train (None: as each run's config says)."""
    todo = [p for p in planned if p.status != "cached"]
    records = []
    spent, estimated_done = 0.0, 0.0
    k = 0
    for p in planned:
        if p.status == "cached":
            records += execute([p.spec], p.out_dir.parent, log=lambda s: None, **execute_kw)
            continue
        k += 1
        left = sum(q.seconds for q in todo[k - 1:])
        pace = spent / estimated_done if estimated_done else 1.0
        log(f"[run {k}/{len(todo)}] {p.spec.label} ({', '.join(p.experiments)}): "
            f"~{fmt_seconds(p.seconds * pace)}; all runs left ~{fmt_seconds(left * pace)}, "
            f"ETA {time.strftime('%H:%M', time.localtime(time.time() + left * pace))}")
        t0 = time.time()
        spec = p.spec if compile_on is None else dataclasses.replace(
            p.spec, overrides={**p.spec.overrides, "compile": compile_on})
        records += execute([spec], p.out_dir.parent, log=log, **execute_kw)
        spent += time.time() - t0
        estimated_done += p.seconds
    return records
