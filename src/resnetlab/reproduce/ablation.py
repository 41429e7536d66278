"""What the ablations (tricks, overfitting) share: variants as config overrides, whether this
build declares the keys a variant needs, and its runs over seeds on a budget of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from resnetlab.models.registry import OVERRIDES
from resnetlab.reproduce.budgets import Budget, run_overrides
from resnetlab.reproduce.experiment import Options, final_test_error, label, stat
from resnetlab.reproduce.runner import RunRecord, RunSpec
from resnetlab.train.config import FIELDS


@dataclass(frozen=True)
class OfRun:
    """A value stated as a fraction of the run's length: iterations (warm-up) or, with
    ema=True, the EMA's horizon 1 / (1 - decay) as a fraction of the run, so that a short run
    averages over the same share of its steps as a long one."""

    fraction: float
    ema: bool = False

    def resolve(self, iters: int) -> float | int:
        span = self.fraction * iters
        return round(1.0 - 1.0 / max(2.0, span), 6) if self.ema else max(1, round(span))


@dataclass(frozen=True)
class Variant:
    """One configuration of an ablation: the config keys it sets (a `model_overrides` entry
    is merged into the net's), where the idea comes from, and its length in budget lengths."""

    name: str
    title: str
    sets: dict[str, Any]
    source: str = ""
    drops: tuple[str, ...] = ()  # keys the earlier steps set that this one makes moot
    length: float = 1.0
    optional: dict[str, Any] = field(default_factory=dict)  # set only where declared


def missing_keys(sets: dict[str, Any]) -> list[str]:
    """The keys of `sets` this build does not have (a branch not merged yet): undeclared
    config keys, and model overrides the registry does not take."""
    out = [k for k in sets if k != "model_overrides" and k not in FIELDS]
    return out + [f"model_overrides.{k}" for k in sets.get("model_overrides") or {}
                  if k not in OVERRIDES]


def declared(optional: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in optional.items() if k in FIELDS}


def refuse_nets(opts: Options, experiment: str) -> None:
    if opts.depths or opts.models:
        raise ValueError(f"{experiment} trains its own nets: drop --depths/--models")


def overrides(budget: Budget, opts: Options, model: str, seed: int,
              sets: dict[str, Any], drops: tuple[str, ...] = (), length: float = 1.0
              ) -> dict[str, Any]:
    """One run's config overrides: the budget's paper-cifar schedule at `length` times its
    iterations, then `sets` (OfRun values resolved against the run's length), less `drops`."""
    iters = max(1, round(budget.iters * length))
    longer = Budget(**{**budget.__dict__, "iters": iters,
                       "checkpoint_every": max(1, round(budget.checkpoint_every * length))})
    model_overrides = dict(sets.get("model_overrides") or {})
    out = run_overrides(longer, opts.data, model, seed, model_overrides or None)
    for k, v in sets.items():
        if k != "model_overrides":
            out[k] = v.resolve(iters) if isinstance(v, OfRun) else v
    for k in drops:
        out.pop(k, None)
    return {**out, **opts.extra}  # --set has the last word


def spec(opts: Options, budget: Budget, model: str, seed: int, variant: str,
         sets: dict[str, Any], tags: dict[str, Any], drops: tuple[str, ...] = (),
         length: float = 1.0) -> RunSpec:
    return RunSpec(label(model, seed, variant),
                   overrides(budget, opts, model, seed, sets, drops, length),
                   {**tags, "seed": seed}, "paper-cifar")


def row(name: str, runs: list[RunRecord]) -> dict[str, Any]:
    """A variant's errors over seeds: final test error, training error over the last 10%."""
    mean, std, n = final_test_error(runs)
    tr, tr_std, _ = stat(runs, lambda r: r.tail_mean("train_error"))
    return {"name": name, "test_error": mean, "test_std": std, "n": n,
            "train_error": tr, "train_std": tr_std,
            "per_seed": {int(r.spec.tags["seed"]): r.final("test_error") for r in runs},
            "train_per_seed": {int(r.spec.tags["seed"]): r.tail_mean("train_error")
                               for r in runs},
            "seconds": sum(r.seconds for r in runs)}


def seed_values(per_seed: dict[int, float | None]) -> list[float]:
    return [v for v in per_seed.values() if v is not None]
