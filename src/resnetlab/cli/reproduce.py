"""`resnetlab reproduce degradation|shortcuts|depth|responses|tricks|overfitting|all`: the
paper's experiments, the modern-recipe ablations, and all four of the paper's on one cache."""

from __future__ import annotations

from pathlib import Path

import torch

from resnetlab.analysis.plots import require
from resnetlab.analysis.report import command_line
from resnetlab.cli.train import parse_sets
from resnetlab.reproduce.budgets import BUDGET_NAMES
from resnetlab.reproduce.experiment import Options
from resnetlab.reproduce.experiments import EXPERIMENTS, budgets_of, run_experiment
from resnetlab.reproduce.suite import COMPILE_CHOICES, run_suite


def parse_depths(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        return tuple(int(d) for d in text.split(",") if d.strip())
    except ValueError:
        raise ValueError(f"--depths takes comma-separated integers (20,56), got {text!r}"
                         ) from None


def run(args) -> int:
    if args.experiment != "all" and args.compile != "auto":
        raise ValueError("--compile goes with `reproduce all`; for one experiment use --set "
                         "compile=true")
    if not args.dry_run:
        require(f"reproduce {args.experiment}")
    extra = parse_sets(args.set)
    if args.threads:
        torch.set_num_threads(args.threads)
        # every run's own threads: without it each run picks the cores idle at its start,
        # and one started beside a short job would train the whole run on one core
        extra.setdefault("threads", str(args.threads))
    module = EXPERIMENTS.get(args.experiment)
    seeds = args.seeds if args.seeds is not None else getattr(module, "SEEDS", 1)
    opts = Options(data=args.data, budget=args.budget, seeds=seeds,
                   out=Path(args.out) if args.out else None,
                   runs=Path(args.runs) if args.runs else None,
                   depths=parse_depths(args.depths),
                   models=tuple(m.strip() for m in args.models.split(",") if m.strip())
                   if args.models else None, force=args.force,
                   extra=extra, command=command_line())
    if args.experiment == "all":
        run_suite(opts, compile_choice=args.compile, dry_run=args.dry_run)
    elif args.dry_run:
        run_experiment(args.experiment, opts, dry_run=True)
    else:
        run_experiment(args.experiment, opts)
    return 0


def budget_help() -> str:
    """Each experiment's budgets, grouped where they are the same table."""
    groups: dict[int, tuple[list[str], dict]] = {}
    for name, module in EXPERIMENTS.items():
        table = budgets_of(module)
        groups.setdefault(id(table), ([], table))[0].append(name)
    return " | ".join(f"{', '.join(names)}: " + "; ".join(f"{b.name}: {b.about}"
                                                            for b in table.values())
                      for names, table in groups.values())


def register(sub) -> None:
    p = sub.add_parser("reproduce", help="run the paper's experiments, with reports",
                       description="Run one of the paper's experiments, one of the ablations "
                       "of modern training (tricks, overfitting), or `all` four of the paper's "
                       "on one run cache with an index of every claim and its verdict. Each "
                       "prints its plan and a time estimate measured on this machine first.")
    p.add_argument("experiment", choices=(*EXPERIMENTS, "all"),
                   help="one experiment, or all four of the paper's (no net is trained twice)")
    p.add_argument("--data", default="fashion-mnist",
                   help="cifar10, cifar100, fashion-mnist (default), mnist, an alias (fmnist, "
                   "cifar-10, ...), or an image folder")
    p.add_argument("--budget", choices=BUDGET_NAMES, default="quick", help=budget_help())
    p.add_argument("--seeds", type=int, help="runs per configuration (mean ± std; default: 3 "
                   "for tricks and overfitting, 1 for the others)")
    p.add_argument("--depths", help="comma-separated depths to use instead of the defaults")
    p.add_argument("--models", help="responses: comma-separated nets (plain20,resnet110)")
    p.add_argument("--out", help="report folder (default results/EXPERIMENT-DATA-BUDGET)")
    p.add_argument("--runs", help="run cache, shared by experiments (default: runs/ beside the "
                   "report folder)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="training config override for every run (repeatable)")
    p.add_argument("--force", action="store_true", help="retrain runs that are cached")
    p.add_argument("--threads", type=int,
                   help="CPU threads of every run (default: at each run's start, the cores "
                   "other processes leave idle; fix it on a machine shared with short jobs)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan and the measured time estimate, train nothing")
    p.add_argument("--compile", choices=COMPILE_CHOICES, default="auto",
                   help="all: torch.compile the runs (auto: when the measured speed-up pays "
                   "back the measured compile time)")
    p.set_defaults(func=run)
