"""Which modern trick buys what (issue 22 item 4): a cumulative ablation of ResNet-20 on
Fashion-MNIST from the paper's CIFAR recipe at a fixed length, adding one trick a step, in
the order the modern recipes stack them (Bag of Tricks, He et al. 2019; torchvision's 2021
recipe; ResNet strikes back, Wightman et al. 2021), each step judged against the one before
over seeds."""

from __future__ import annotations

from typing import Any

from resnetlab.analysis.figures import ablation_figure
from resnetlab.analysis.report import Report, fmt_mean_std, fmt_seconds
from resnetlab.reproduce.ablation import (
    OfRun,
    Variant,
    declared,
    missing_keys,
    refuse_nets,
    row,
    seed_values,
    spec,
)
from resnetlab.reproduce.budgets import TRICKS_BUDGETS as BUDGETS
from resnetlab.reproduce.claims import claims_rows, gain_claims, verdict_cell
from resnetlab.reproduce.experiment import Options, group, seeds_of
from resnetlab.reproduce.runner import RunRecord, RunSpec
from resnetlab.reproduce.verdicts import gain

TITLE = "Which modern trick buys what (cumulative ablation, ResNet-20)"
SEEDS = 3
MODEL = {"smoke": "resnet8"}  # else resnet20

# Each step keeps every earlier step's keys and adds its own. A step whose keys this build
# lacks is left out (named in the report) and the next one builds on the last one run.
STEPS = (
    Variant("paper", "the paper's recipe", {},
            "He et al. 2015, Sec. 4.2: SGD momentum 0.9, weight decay 1e-4, lr 0.1 divided by "
            "10 at 50% and 75% of the run, pad-4 crop + flip"),
    Variant("cosine", "+ cosine lr with linear warm-up",
            {"schedule": "cosine", "final_lr": 0.0, "warmup": "linear",
             "warmup_iters": OfRun(0.05), "warmup_lr": 0.0, "warmup_min_depth": 0},
            "Loshchilov & Hutter 2017 (cosine); Goyal et al. 2017 (warm-up); Bag of Tricks "
            "Table 6: +cosine gains on ImageNet", drops=("milestones", "milestone_unit")),
    Variant("smoothing", "+ label smoothing 0.1", {"label_smoothing": 0.1},
            "Szegedy et al. 2016; Bag of Tricks Table 6: +label smoothing gains on ImageNet"),
    Variant("mixing", "+ mixup 0.2 / CutMix 1.0", {"mixup_alpha": 0.2, "cutmix_alpha": 1.0},
            "Zhang et al. 2018; Yun et al. 2019; the alphas of torchvision's 2021 recipe"),
    Variant("augment", "+ TrivialAugment", {"augment": "trivialaugment"},
            "Müller & Hutter 2021 (TrivialAugmentWide), torchvision's 2021 recipe"),
    Variant("ema", "+ EMA of the weights", {"ema": OfRun(0.05, ema=True)},
            "Polyak & Juditsky 1992; torchvision's 2021 recipe (decay here: an average over "
            "the last ~5% of the run's steps)", optional={"ema_warmup": True}),
    Variant("longer", "+ twice the schedule", {},
            "ResNet strikes back: A3 100, A2 300, A1 600 epochs", length=2.0),
)


STACKED = ("Bag of Tricks (He et al. 2019): ResNet-50 75.3 → 79.29% top-1 on ImageNet with "
           "the same network")


def model_of(opts: Options) -> str:
    return MODEL.get(opts.budget, "resnet20")


def ladder() -> tuple[list[tuple[int, Variant, dict, tuple, float]], list[dict[str, Any]]]:
    """The steps this build can run, each with its cumulative keys, drops and length; and the
    steps left out, with the keys they need."""
    steps, skipped = [], []
    sets: dict[str, Any] = {}
    drops: tuple[str, ...] = ()
    length = 1.0
    for k, step in enumerate(STEPS):
        missing = missing_keys(step.sets)
        if missing:
            skipped.append({"step": step.name, "title": step.title, "missing": missing})
            continue
        sets = {**sets, **step.sets, **declared(step.optional)}
        drops = (*drops, *step.drops)
        length *= step.length
        steps.append((k, step, dict(sets), drops, length))
    return steps, skipped


def plan(opts: Options) -> list[RunSpec]:
    refuse_nets(opts, "tricks")
    budget = BUDGETS[opts.budget]
    model = model_of(opts)
    return [spec(opts, budget, model, seed, f"t{k}-{step.name}", sets,
                 {"step": step.name, "index": k}, drops, length)
            for k, step, sets, drops, length in ladder()[0] for seed in seeds_of(opts)]


def judge(rows: list[dict[str, Any]], steps: dict[str, Variant]) -> list[dict[str, Any]]:
    """Each step against the one before, and the stacked recipe against the paper's."""
    seeds = sorted({s for r in rows for s in r["per_seed"]})

    def values(r: dict[str, Any]) -> list[float | None]:
        return [r["per_seed"].get(s) for s in seeds]

    out = []
    for before, after in zip(rows, rows[1:]):
        v = gain(f"{steps[after['name']].title} lowers the test error", values(before),
                 values(after), names=("the step before", "with it")).to_dict()
        out.append({"kind": "step", "step": after["name"], "against": before["name"],
                    "paper": steps[after["name"]].source, **v})
    same_length = [r for r in rows if steps[r["name"]].length == 1.0]
    if len(same_length) > 1:
        v = gain("every trick at the same length beats the paper's recipe",
                 values(same_length[0]), values(same_length[-1]),
                 names=("the paper's", "every trick")).to_dict()
        out.append({"kind": "stack", "step": same_length[-1]["name"],
                    "against": rows[0]["name"], "paper": STACKED, **v})
    if len(rows) > 1 and rows[-1] is not same_length[-1]:
        v = gain("the whole modern recipe beats the paper's", values(rows[0]),
                 values(rows[-1]), names=("the paper's", "the whole recipe")).to_dict()
        out.append({"kind": "stack", "step": rows[-1]["name"], "against": rows[0]["name"],
                    "paper": STACKED, **v})
    return out


def analyze(records: list[RunRecord], opts: Options, report: Report) -> dict[str, Any]:
    steps = {s.name: s for s in STEPS}
    budget = BUDGETS[opts.budget]
    rows = [{**row(name, runs), "title": steps[name].title, "index": runs[0].spec.tags["index"],
             "iters": runs[0].config["iters"]}
            for (name,), runs in group(records, "step").items()]
    verdicts = judge(rows, steps)
    skipped = ladder()[1]
    by_step = {v["step"]: v for v in verdicts if v["kind"] == "step"}
    claims = gain_claims(verdicts, "tricks")
    by_claim = {c["claim"]: c for c in claims}
    images = f"{budget.subset} images" if budget.subset else "the whole training set"
    report.section(
        "Setup",
        f"Budget **{budget.name}** ({budget.about}): {model_of(opts)} on {images} of "
        f"**{opts.data}**, batch {budget.batch_size}, {budget.iters} iterations a step (the "
        f"longer step: twice that), test error measured {budget.evals} time(s) a run; "
        f"{opts.seeds} seed(s). Each step keeps every key of the steps above it and adds its "
        "own; a step is judged against the one before it: it *pays* when the mean test "
        "error falls by more than the sum of the two steps' stds over seeds.",
        "Test error: the final model's (the EMA's where the EMA is on), never one chosen on "
        "the test set. Training error: the logged error on the training batches over the "
        "last 10% of iterations; from the mixing step on the batches are mixed, so it no "
        "longer measures the fit.")
    body = []
    for r in rows:
        v = by_step.get(r["name"])
        body.append([r["title"], r["iters"],
                     fmt_mean_std(r["test_error"], r["test_std"], r["n"]),
                     "—" if v is None else f"{v['gain']:+.2f}",
                     "—" if v is None else verdict_cell(by_claim[v["claim"]]),
                     fmt_mean_std(r["train_error"], r["train_std"], r["n"]),
                     fmt_seconds(r["seconds"])])
    report.section("Results")
    report.table(["step", "iterations", "test error (%)", "gain (points)", "verdict",
                  "train error (%)", "training time"], body, "lrrrlrr")
    if skipped:
        report.text("Not run (this build lacks their keys; issue 22 item 1 adds them): " +
                    "; ".join(f"{s['title']} (needs {', '.join(s['missing'])})"
                              for s in skipped) + ".")
    fig = ablation_figure({"test error": {r["title"]: seed_values(r["per_seed"])
                                          for r in rows}},
                          report.out_dir / "tricks.png", f"{model_of(opts)}, {opts.data}")
    report.figure(fig, "Final test error after each cumulative step: bars the mean over "
                  "seeds, whiskers ± one std, dots the seeds.")
    report.section("Verdicts", *[f"- {v['claim']}: {v['text']}" for v in verdicts],
                   "A trick that does not pay at this budget is a finding about this budget "
                   "(a short run on a small grey-scale set), not about the trick: the "
                   "published gains are for ImageNet-length runs.")
    report.section("Claims (the index's format)")
    report.table(["claim", "published", "this run", "verdict"], claims_rows(claims), "llll")
    return {"model": model_of(opts), "rows": rows, "verdicts": verdicts, "skipped": skipped,
            "claims": claims, "figures": [fig.name]}
