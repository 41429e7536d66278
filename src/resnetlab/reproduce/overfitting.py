"""The paper's overfitting story, measured (issue 22 item 5): its 1202-layer net fits CIFAR-10
as well as the 110-layer one and tests worse (7.93% against 6.43%), blamed on overfitting
with "no strong regularization" (Sec. 4.2). Here a deep CIFAR net and a shallow one (11x
fewer parameters, as 110 against 1202) train on a small Fashion-MNIST subset; then dropout,
stochastic depth and mixup, each alone on the deep net, show whether they close the gap.

Why the sizes: ResNet-56 (0.85M parameters) against ResNet-8 (78k) mirrors 1202 (19.4M)
against 110 (1.7M); 500 (quick) or 1,000 (full) training images, 50 or 100 a class, are few
enough that ResNet-56 fits them in a few hundred iterations and cheap enough that its run
takes minutes on a 2-core CPU (reproduce/budgets.py: OVERFITTING_BUDGETS).
"""

from __future__ import annotations

from typing import Any

from resnetlab.analysis.figures import ablation_figure
from resnetlab.analysis.report import Report, fmt_mean_std, fmt_seconds
from resnetlab.reproduce.ablation import (
    Variant,
    refuse_nets,
    row,
    seed_values,
    spec,
)
from resnetlab.reproduce.budgets import OVERFITTING_BUDGETS as BUDGETS
from resnetlab.reproduce.claims import claims_rows, gain_claims
from resnetlab.reproduce.experiment import Options, group, seeds_of
from resnetlab.reproduce.runner import RunRecord, RunSpec
from resnetlab.reproduce.verdicts import gain

TITLE = "Overfitting: a deep net against a shallow one on a small subset, and its cures"
SEEDS = 3
NETS = {"smoke": ("resnet8", "resnet14")}  # (shallow, deep); else ("resnet8", "resnet56")
PAPER = "CIFAR-10: ResNet-1202 7.93% against ResNet-110 6.43%, both training errors < 0.1%"
# Each regulariser alone on the deep net.
REGULARISERS = (
    Variant("dropout", "+ dropout 0.3 before the classifier", {"dropout": 0.3},
            "Srivastava et al. 2014; Wide ResNets (Zagoruyko & Komodakis 2016) use 0.3"),
    Variant("droppath", "+ stochastic depth 0.5", {"drop_path_rate": 0.5},
            "Huang et al. 2016: the last block dropped with p = 0.5, linear in depth"),
    Variant("mixup", "+ mixup 1.0", {"mixup_alpha": 1.0},
            "Zhang et al. 2018: alpha 1 on CIFAR-10"),
)


def nets(opts: Options) -> tuple[str, str]:
    return NETS.get(opts.budget, ("resnet8", "resnet56"))


def plan(opts: Options) -> list[RunSpec]:
    refuse_nets(opts, "overfitting")
    budget = BUDGETS[opts.budget]
    shallow, deep = nets(opts)
    size = f"n{budget.subset}"  # the subset in every label: these are not the depth table's
    out = []
    for seed in seeds_of(opts):
        out.append(spec(opts, budget, shallow, seed, size, {}, {"variant": "shallow"}))
        out.append(spec(opts, budget, deep, seed, size, {}, {"variant": "deep"}))
        out += [spec(opts, budget, deep, seed, f"{size}-{v.name}", v.sets, {"variant": v.name})
                for v in REGULARISERS]
    return out


def judge(rows: dict[str, dict[str, Any]], shallow: str, deep: str,
          ready: list[Variant]) -> list[dict[str, Any]]:
    """The deep net against the shallow one (fit, then test), then each regulariser against
    the plain deep net."""
    seeds = sorted({s for r in rows.values() for s in r["per_seed"]})

    def values(name: str, key: str = "per_seed") -> list[float | None]:
        return [rows[name][key].get(s) for s in seeds]

    fit = gain(f"{deep} reaches a lower training error than {shallow}",
               values("shallow", "train_per_seed"), values("deep", "train_per_seed"),
               "training error", (shallow, deep))
    worse = gain(f"{deep} generalises worse: {shallow} has the lower test error",
                 values("deep"), values("shallow"), names=(deep, shallow))
    out = [{"variant": "deep", "paper": PAPER, **v.to_dict()} for v in (fit, worse)]
    gap = (rows["deep"]["test_error"] or 0.0) - (rows["shallow"]["test_error"] or 0.0)
    for reg in ready:
        v = gain(f"{reg.title.removeprefix('+ ')} lowers {deep}'s test error",
                 values("deep"), values(reg.name), names=(deep, "with it")).to_dict()
        v["gap_closed"] = v["gain"] / gap if gap > 0 else None
        out.append({"variant": reg.name, "paper": reg.source, **v})
    return out


def analyze(records: list[RunRecord], opts: Options, report: Report) -> dict[str, Any]:
    budget = BUDGETS[opts.budget]
    shallow, deep = nets(opts)
    ready = list(REGULARISERS)
    rows = {name: row(name, runs) for (name,), runs in group(records, "variant").items()}
    verdicts = judge(rows, shallow, deep, ready)
    label = {"shallow": shallow, "deep": deep, **{v.name: f"{deep} {v.title}" for v in ready}}
    report.section(
        "Setup",
        f"Budget **{budget.name}** ({budget.about}): {budget.subset} training images of "
        f"**{opts.data}** (class-stratified), the whole test set; batch {budget.batch_size}, "
        f"{budget.iters} iterations, lr 0.1 divided by 10 at 50% and 75%, the paper-cifar "
        f"recipe otherwise; {opts.seeds} seed(s). The paper's case: {PAPER}."
        + budget.departures_text(),
        "Training error: the logged error on the training batches over the last 10% of "
        "iterations (with mixup: against the first of the two labels, so not a fit "
        "measure). Test error: the final model's.")
    report.section("Results")
    report.table(["net", "train error (%)", "test error (%)", "test − train", "training time"],
                 [[label[n], fmt_mean_std(r["train_error"], r["train_std"], r["n"]),
                   fmt_mean_std(r["test_error"], r["test_std"], r["n"]),
                   "—" if r["test_error"] is None or r["train_error"] is None
                   else f"{r['test_error'] - r['train_error']:.2f}", fmt_seconds(r["seconds"])]
                  for n, r in rows.items()], "lrrrr")
    fig = ablation_figure(
        {"test error": {label[n]: seed_values(r["per_seed"]) for n, r in rows.items()},
         "training error": {label[n]: seed_values(r["train_per_seed"])
                            for n, r in rows.items()}},
        report.out_dir / "overfitting.png", f"{budget.subset} images of {opts.data}")
    report.figure(fig, "Final test error and training error (last 10% of iterations) per net: "
                  "bars the mean over seeds, whiskers ± one std, dots the seeds.")
    lines = []
    for v in verdicts:
        closed = v.get("gap_closed")
        extra = "" if closed is None else f" It closes {closed:.0%} of the deep-shallow gap."
        lines.append(f"- {v['claim']}: {v['text']}{extra}")
    report.section("Verdicts", *lines,
                   "The paper's reading (1202 overfits) needs the deep net to fit as well and "
                   "test worse; a regulariser *closes the gap* when it lowers the deep net's "
                   "test error by more than the seeds' spread.")
    claims = gain_claims(verdicts, "overfitting")
    report.section("Claims (the index's format)")
    report.table(["claim", "published", "this run", "verdict"], claims_rows(claims), "llll")
    return {"nets": [shallow, deep], "subset": budget.subset, "rows": rows,
            "verdicts": verdicts, "claims": claims,
            "figures": [fig.name]}
