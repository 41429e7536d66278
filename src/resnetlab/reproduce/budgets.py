"""How long each experiment trains: smoke (seconds, for tests), quick (CPU), paper (GPU); the
ablations (tricks, overfitting) have smoke, quick and full, each sized for this 2-core CPU.

Budgets are data: iterations, batch, learning-rate milestones as fractions of the run, how
often to evaluate, and any change from the paper's recipe that a short budget needs (named,
with the reason, in every report). They turn into resnetlab.train config overrides;
everything else is the paper-cifar recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnetlab.data.sets.sources import builtin_name, resolve_data
from resnetlab.models.registry import get_spec


@dataclass(frozen=True)
class Budget:
    name: str
    iters: int
    batch_size: int
    milestones: tuple[float, ...]  # fractions of iters where lr is divided by 10
    evals: int  # test-set evaluations over the run (the last at the final iteration)
    subset: int | None  # training images (None: the whole training set)
    checkpoint_every: int
    log_every: int  # iterations per logged training-error point
    about: str
    # Departures from the paper's recipe: config overrides for every net, model overrides for
    # residual nets only (e.g. zero-initialised last BN of each block, which has no meaning
    # in a plain net), and why the budget needs them. Empty for the paper's own budget.
    changes: dict[str, Any] = field(default_factory=dict)
    residual_model_changes: dict[str, Any] = field(default_factory=dict)
    why: str = ""

    def departures(self) -> list[str]:
        """The changes from the paper's recipe, one readable item each."""
        out = [f"{k}={v}" for k, v in sorted(self.changes.items())]
        out += [f"{k}={v} (ResNets only)" for k, v in sorted(self.residual_model_changes.items())]
        return out

    def departures_text(self) -> str:
        """' **Not the paper's recipe:** ... Why: ...' for a report, or '' for none."""
        if not self.departures():
            return ""
        return f" **Not the paper's recipe:** {'; '.join(self.departures())}. Why: {self.why}"


QUICK_WHY = (
    "under the paper's own recipe ResNet-56 starts far behind ResNet-20 (its loss at "
    "initialisation is ~4 against ~2.6: 27 BN-scaled branches add up on the identity path) "
    "and had not caught up after 300, 1,500 or 2,000 iterations (measured: "
    "docs/results/quick-budget-sweep.md), so a CPU-length run would show the opposite of "
    "the paper. Starting each residual branch at zero (the last BN of every block "
    "zero-initialised, Goyal et al. 2017) makes every ResNet start as a shallow net and "
    "train from the first iteration. It has no counterpart in a plain net, which keeps the "
    "paper's recipe: the degradation of plain nets is not touched by it.")

BUDGETS: dict[str, Budget] = {
    b.name: b
    for b in (
        Budget("smoke", iters=4, batch_size=16, milestones=(0.5, 0.75), evals=1, subset=128,
               checkpoint_every=2, log_every=1,
               about="seconds; tiny nets and subsets; proves the path works"),
        Budget("quick", iters=2000, batch_size=128, milestones=(0.5, 0.75), evals=4,
               subset=None, checkpoint_every=250, log_every=10,
               about="about an hour a seed for `reproduce all` on a 2-core CPU",
               residual_model_changes={"zero_init_residual": True},
               why=QUICK_WHY),
        Budget("paper", iters=64000, batch_size=128, milestones=(0.5, 0.75), evals=32,
               subset=None, checkpoint_every=2000, log_every=100,
               about="the paper's schedule: lr 0.1, /10 at 32k and 48k, stop at 64k (GPU)"),
    )
}


# The ablations' budgets are sized from the time estimate every `reproduce` command measures
# before it trains (`--dry-run` prints it); the comments quote it.
TRICKS_BUDGETS: dict[str, Budget] = {
    b.name: b
    for b in (
        Budget("smoke", iters=4, batch_size=16, milestones=(0.5, 0.75), evals=1, subset=128,
               checkpoint_every=2, log_every=1,
               about="seconds; ResNet-8 on 128 images; proves the path works"),
        # 6 steps of 500 iterations and the longer one of 1,000: 4,000 iterations a seed. The
        # command's own estimate (idle, 2 threads, 2026-12-07): 17.4 min for 3 seeds; it took
        # 28.9 min at 1 thread beside another training (docs/results/README.md).
        Budget("quick", iters=500, batch_size=128, milestones=(0.5, 0.75), evals=2,
               subset=None, checkpoint_every=250, log_every=10,
               about="~6 min a seed on a 2-core CPU: 500 iterations (1.1 epochs) a step"),
        # 6 steps of 3,000 iterations (6.4 epochs) and the longer one of 6,000: 24,000
        # iterations a seed; the command's estimate (idle, 2 threads): 113 min for 3 seeds.
        Budget("full", iters=3000, batch_size=128, milestones=(0.5, 0.75), evals=4,
               subset=None, checkpoint_every=500, log_every=20,
               about="~38 min a seed, ~2 h for 3 seeds on a 2-core CPU: 3,000 "
                     "iterations (6.4 epochs) a step"),
    )
}

OVERFITTING_WHY = (
    "the paper's nets fit CIFAR-10 to < 0.1% training error before their test errors are "
    "compared; in a few hundred iterations neither net fits even 500 images under the "
    "paper's recipe (measured 2026-12-07, quick budget, 3 seeds: ResNet-8 18.3% and "
    "ResNet-56 54.8 ± 24.1% training error; ResNet-56 sat near 80% in one seed). Without "
    "pad-and-crop and flips the images can be memorised, and with each residual branch "
    "starting at zero (the last BN of every block, Goyal et al. 2017; the quick budget of "
    "`reproduce all` does the same) ResNet-56 trains from the first iteration (seed 0: "
    "0.0% training error at 300 iterations, against 78% with the paper's init and "
    "augmentation).")
# The subset is small enough that the deep net fits it and cheap enough that a quick run of
# ResNet-56 takes minutes: 4 ResNet-56 runs a seed (plain and 3 regularised) dominate.
OVERFITTING_BUDGETS: dict[str, Budget] = {
    b.name: b
    for b in (
        Budget("smoke", iters=4, batch_size=16, milestones=(0.5, 0.75), evals=1, subset=64,
               checkpoint_every=2, log_every=1,
               about="seconds; ResNet-8 against ResNet-14 on 64 images"),
        # 4 ResNet-56 runs of 300 iterations + ResNet-8's; the command's estimate (idle, 2
        # threads): 14 min for 3 seeds.
        Budget("quick", iters=300, batch_size=128, milestones=(0.5, 0.75), evals=2, subset=500,
               checkpoint_every=150, log_every=10,
               about="~5 min a seed on a 2-core CPU: 500 images, 300 iterations (77 epochs)",
               changes={"pad": 0, "flip": False},
               residual_model_changes={"zero_init_residual": True}, why=OVERFITTING_WHY),
        # 4 ResNet-56 runs of 1,000 iterations + ResNet-8's; the command's estimate (idle, 2
        # threads): 48 min for 3 seeds.
        Budget("full", iters=1000, batch_size=128, milestones=(0.5, 0.75), evals=3,
               subset=1000, checkpoint_every=250, log_every=10,
               about="~16 min a seed on a 2-core CPU: 1,000 images, 1,000 iterations "
                     "(128 epochs)",
               changes={"pad": 0, "flip": False},
               residual_model_changes={"zero_init_residual": True}, why=OVERFITTING_WHY),
    )
}
BUDGET_NAMES = tuple(dict.fromkeys([*BUDGETS, *TRICKS_BUDGETS, *OVERFITTING_BUDGETS]))


def get_budget(name: str) -> Budget:
    if name not in BUDGETS:
        raise ValueError(f"unknown budget {name!r}: use one of {', '.join(BUDGETS)}")
    return BUDGETS[name]


def data_overrides(data: str) -> dict[str, Any]:
    """--data NAME (a built-in set, by any of its names) or a folder of class sub-folders ->
    the config's data keys: the set's own name, or the folder's absolute path."""
    data = resolve_data(data)
    return {"data": data if builtin_name(data) else str(Path(data).resolve())}


def is_folder(data: str) -> bool:
    return builtin_name(data) is None


def run_overrides(budget: Budget, data: str, model: str, seed: int = 0,
                  model_overrides: dict[str, Any] | None = None,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Config overrides of one run: the budget's schedule, the model, the data, the seed."""
    iters = budget.iters
    mo = dict(model_overrides or {})
    if budget.residual_model_changes and _residual(model):
        mo = {**budget.residual_model_changes, **mo}
    out: dict[str, Any] = {
        "model": model,
        "model_overrides": mo,
        **data_overrides(data),
        "iters": iters,
        "batch_size": budget.batch_size,
        "schedule": "step",
        "milestone_unit": "iters",
        "milestones": [round(f * iters) for f in budget.milestones],
        "eval_every": max(1, iters // budget.evals),
        "eval_test": True,
        "checkpoint_every": budget.checkpoint_every,
        "log_every": budget.log_every,
        "subset": budget.subset,
        "val_size": 0,
        "seed": seed,
    }
    out.update(budget.changes)
    out.update(extra or {})
    return out


def _residual(model: str) -> bool:
    return get_spec(model).residual
