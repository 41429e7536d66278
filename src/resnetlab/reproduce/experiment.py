"""What every experiment shares: its options, the runs of its plan, grouping runs over seeds
(the four by name, and running one: reproduce.experiments)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnetlab.checkpoint import load_model
from resnetlab.data.sets.sources import resolve_data
from resnetlab.models.registry import get_spec
from resnetlab.models.stats import count_macs, count_params
from resnetlab.reproduce.budgets import (
    BUDGET_NAMES,
    Budget,
    get_budget,
    is_folder,
    run_overrides,
)
from resnetlab.reproduce.runner import RunRecord, RunSpec
from resnetlab.reproduce.verdicts import mean_std


@dataclass
class Options:
    """An experiment's settings: data, budget, seeds, where to write, what to vary."""

    data: str = "fashion-mnist"
    budget: str = "quick"
    seeds: int = 1
    out: Path | None = None
    runs: Path | None = None
    depths: tuple[int, ...] | None = None
    models: tuple[str, ...] | None = None  # responses: the exact nets to compare
    force: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # config overrides for every run
    command: str | None = None

    def __post_init__(self) -> None:
        self.data = resolve_data(self.data)  # 'fmnist' -> 'fashion-mnist': one cache, one name
        if self.budget not in BUDGET_NAMES:  # each experiment checks that it has this one
            raise ValueError(f"unknown budget {self.budget!r}: use one of "
                             f"{', '.join(BUDGET_NAMES)}")
        if self.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {self.seeds}")
        for d in self.depths or ():
            get_spec(f"resnet{d}")  # a CIFAR depth that is not 6n+2 is refused, naming 6n+2
        if self.models:
            for m in self.models:
                if get_spec(m).dataset != "cifar":
                    raise ValueError(f"{m} is not a CIFAR-style net (plainN / resnetN)")

    @property
    def plan_budget(self) -> Budget:
        return get_budget(self.budget)

    def out_dir(self, experiment: str) -> Path:
        tag = Path(self.data).name if Path(self.data).is_dir() else self.data
        return Path(self.out or Path("results") / f"{experiment}-{tag}-{self.budget}")

    def runs_dir(self, experiment: str) -> Path:
        """RUNS, or a runs/ folder beside the report folder: experiments whose reports are
        siblings (the default) share one cache, so one reuses the nets another trained."""
        return Path(self.runs or self.out_dir(experiment).parent / "runs")


def seeds_of(opts: Options) -> range:
    return range(opts.seeds)


def label(model: str, seed: int, variant: str = "") -> str:
    return f"{model}{'-' + variant if variant else ''}-s{seed}"


def run_spec(opts: Options, model: str, seed: int, tags: dict[str, Any],
             shortcut: str | None = None) -> RunSpec:
    """One run of a plan: the budget's schedule on opts.data, labelled model[-option]-sSEED.

    Image folders train with the paper-imagenet recipe (scale augmentation), the rest with
    paper-cifar; the budget sets the length either way.
    """
    overrides = run_overrides(opts.plan_budget, opts.data, model, seed,
                              {"shortcut": shortcut} if shortcut else None, opts.extra)
    recipe = "paper-imagenet" if is_folder(opts.data) else "paper-cifar"
    return RunSpec(label(model, seed, shortcut or ""), overrides, {**tags, "seed": seed}, recipe)


def group(records: list[RunRecord], *keys: str) -> dict[tuple, list[RunRecord]]:
    """Records grouped by their tags (e.g. ("kind", "depth")), seeds pooled, plan order."""
    out: dict[tuple, list[RunRecord]] = {}
    for r in records:
        out.setdefault(tuple(r.spec.tags[k] for k in keys), []).append(r)
    return out


def stat(records: list[RunRecord], fn: Callable[[RunRecord], float | None]
         ) -> tuple[float | None, float | None, int]:
    values = [v for v in (fn(r) for r in records) if v is not None]
    mean, std = mean_std(values)
    return mean, std, len(values)


def final_test_error(records: list[RunRecord]) -> tuple[float | None, float | None, int]:
    """The final models' test error over seeds (mean, sample std, count): never a model
    chosen on the test set."""
    return stat(records, lambda r: r.final("test_error"))


def model_size(record: RunRecord) -> tuple[int, int]:
    """(params, MACs) of a run's trained model, at the input size it was trained on."""
    model, meta = load_model(record.out_dir)
    size = meta.get("input_size")
    if not size:
        raise ValueError(f"{record.out_dir}: model.json has no input_size to count MACs at")
    return count_params(model), count_macs(model, (1, *size))


def budget_paragraph(opts: Options) -> str:
    b = opts.plan_budget
    subset = f"{b.subset} training images" if b.subset else "the whole training set"
    extra = "".join(f", {k}={v}" for k, v in sorted(opts.extra.items()))
    text = (f"Budget **{b.name}** ({b.about}): {b.iters} iterations of batch {b.batch_size} "
            f"on {subset} of **{opts.data}**, lr divided by 10 at "
            f"{', '.join(str(round(f * b.iters)) for f in b.milestones)}, test error measured "
            f"{b.evals} time(s); {opts.seeds} seed(s); the rest is the paper-cifar recipe"
            f"{extra}.")
    return text + b.departures_text()
