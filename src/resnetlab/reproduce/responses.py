"""Layer responses (paper Fig. 7): the std of every 3x3 layer's output (after BN, before the
addition and ReLU) of trained plain and residual nets, over the test set."""

from __future__ import annotations

from typing import Any

from resnetlab.analysis.plots import responses_figure
from resnetlab.analysis.report import Report, fmt_pct
from resnetlab.analysis.responses import run_stds, sorted_stds
from resnetlab.models.registry import get_spec
from resnetlab.reproduce.budgets import is_folder
from resnetlab.reproduce.experiment import Options, budget_paragraph, run_spec
from resnetlab.reproduce.runner import RunRecord, RunSpec
from resnetlab.reproduce.verdicts import trend

TITLE = "Layer responses of plain nets and ResNets (paper Fig. 7)"
MODELS = {
    "smoke": ("plain8", "plain14", "resnet8", "resnet14"),
    # quick: the nets degradation's quick budget trains (ResNet-110 alone would take longer
    # than all four on a CPU); --models plain20,plain56,resnet20,resnet56,resnet110 adds it.
    "quick": ("plain20", "plain56", "resnet20", "resnet56"),
    "paper": ("plain20", "plain56", "resnet20", "resnet56", "resnet110"),
}
RELATIVE_TOLERANCE = 0.05  # a mean std must differ by 5% to count as smaller or larger


def models_of(opts: Options) -> tuple[str, ...]:
    if opts.models:
        return opts.models
    if opts.depths:
        return tuple(f"{k}{d}" for k in ("plain", "resnet") for d in opts.depths)
    return MODELS[opts.budget]


def plan(opts: Options) -> list[RunSpec]:
    if is_folder(opts.data):
        raise ValueError("responses measures over a data set's test split: use --data "
                         "cifar10, cifar100, fashion-mnist or mnist")
    if opts.seeds > 1:
        raise ValueError("responses plots single trained models: drop --seeds")
    return [
        run_spec(opts, m, 0, {"model": m, "kind": "plain" if m.startswith("plain") else "resnet",
                              "depth": get_spec(m).depth})
        for m in models_of(opts)
    ]


def measure(record: RunRecord) -> dict[str, float]:
    return run_stds(record.out_dir, record.config)


def display(model: str) -> str:
    return model.replace("plain", "plain-").replace("resnet", "ResNet-")


def analyze(records: list[RunRecord], opts: Options, report: Report) -> dict[str, Any]:
    stds = {r.spec.tags["model"]: measure(r) for r in records}
    mean_of = {m: sum(v.values()) / len(v) for m, v in stds.items()}
    fig = responses_figure({display(m): list(v.values()) for m, v in stds.items()},
                           report.out_dir / "responses.png")
    report.section("Setup", budget_paragraph(opts),
                   "Response: the output of the BN after every 3x3 convolution (the stem's "
                   "too), before the addition and the ReLU; its std pooled over every test "
                   "image, channel and position, in eval mode (BN running statistics).")
    report.figure(fig, "Std of each 3x3 layer's response: in network order (top) and sorted "
                  "by magnitude (bottom). Dashed: plain nets; solid: ResNets.")
    rows = []
    for r in records:
        m = r.spec.tags["model"]
        values = list(stds[m].values())
        ordered = sorted_stds(values)
        rows.append([display(m), len(values), fmt_pct(mean_of[m], 3), fmt_pct(ordered[0], 3),
                     fmt_pct(ordered[-1], 3), fmt_pct(r.final("test_error"))])
    report.section("Per net")
    report.table(["net", "3x3 layers", "mean std", "largest", "smallest", "test error (%)"],
                 rows)
    verdict_lines, verdicts = [], {}
    kinds = {r.spec.tags["model"]: (r.spec.tags["kind"], r.spec.tags["depth"]) for r in records}
    for m, (kind, depth) in kinds.items():
        twin = f"plain{depth}"
        if kind == "resnet" and twin in mean_of:
            a, b = mean_of[m], mean_of[twin]
            tol = RELATIVE_TOLERANCE * b
            status = "holds" if a < b - tol else ("reversed" if a > b + tol else "inconclusive")
            word = {"holds": "Yes", "reversed": "No, the opposite",
                    "inconclusive": "Not shown"}[status]
            text = (f"**{word}.** mean std {a:.3f} ({display(m)}) vs {b:.3f} "
                    f"({display(twin)}); the claim needs a gap above {tol:.3f}.")
            verdicts[f"{m}_vs_{twin}"] = {"status": status, "text": text}
            verdict_lines.append(f"- ResNet responses smaller than the plain twin's at depth "
                                 f"{depth}: {text}")
    res = {d: mean_of[m] for m, (k, d) in kinds.items() if k == "resnet"}
    if len(res) >= 2:
        v = trend(res, "down", "Deeper ResNets have smaller responses", "mean response std",
                  tolerance=RELATIVE_TOLERANCE * res[min(res)], unit="", digits=3)
        verdicts["resnet_depth"] = v.to_dict()
        verdict_lines.append(f"- {v.claim}: {v.text}")
    report.section("Verdicts", *verdict_lines,
                   "The paper (CIFAR-10, 64k iterations): ResNets' responses are generally "
                   "smaller than their plain counterparts', and deeper ResNets' smaller "
                   "still: residual functions are closer to zero than non-residual ones.")
    return {"stds": stds, "mean_std": mean_of, "verdicts": verdicts, "figures": [fig.name]}
