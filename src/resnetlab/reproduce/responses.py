"""Layer responses (paper Fig. 7): the std of every 3x3 layer's output (after BN, before the
addition and ReLU) of trained plain and residual nets, over the test set."""

from __future__ import annotations

from typing import Any

from resnetlab.analysis.figures import responses_figure
from resnetlab.analysis.report import Report, fmt_pct
from resnetlab.analysis.responses import run_stds, sorted_stds
from resnetlab.models.registry import get_spec
from resnetlab.reproduce.budgets import is_folder
from resnetlab.reproduce.experiment import Options, budget_paragraph, run_spec, seeds_of
from resnetlab.reproduce.runner import RunRecord, RunSpec

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
    return [
        run_spec(opts, m, seed, {"model": m, "kind": "plain" if m.startswith("plain") else "resnet",
                                 "depth": get_spec(m).depth})
        for m in models_of(opts) for seed in seeds_of(opts)
    ]


def measure(record: RunRecord) -> dict[str, float]:
    return run_stds(record.out_dir, record.config)


def display(model: str) -> str:
    return model.replace("plain", "plain-").replace("resnet", "ResNet-")


def compare(a: float, b: float, tol: float) -> str:
    """"holds" when a is below b by more than tol, "reversed" when above by more."""
    return "holds" if a < b - tol else ("reversed" if a > b + tol else "inconclusive")


def overall(statuses: list[str]) -> tuple[str, str]:
    """A claim over seeds: holds (reversed) only when it holds (is reversed) in every seed."""
    n, k = len(statuses), statuses.count("holds")
    status = "holds" if k == n else ("reversed" if statuses.count("reversed") == n
                                     else "inconclusive")
    word = {"holds": "Yes", "reversed": "No, the opposite", "inconclusive": "Not shown"}[status]
    return status, f"**{word}** ({k} of {n} seed{'s' if n > 1 else ''})"


def analyze(records: list[RunRecord], opts: Options, report: Report) -> dict[str, Any]:
    # per (model, seed): std of every 3x3 response; the figure shows the first seed's nets
    per_run = {(r.spec.tags["model"], r.spec.tags["seed"]): measure(r) for r in records}
    models = list(dict.fromkeys(m for m, _ in per_run))
    seeds = sorted({s for _, s in per_run})
    first = seeds[0]
    stds = {m: per_run[(m, first)] for m in models}
    mean_by_seed = {m: [sum(per_run[(m, s)].values()) / len(per_run[(m, s)]) for s in seeds]
                    for m in models}
    mean_of = {m: sum(v) / len(v) for m, v in mean_by_seed.items()}
    fig = responses_figure({display(m): list(v.values()) for m, v in stds.items()},
                           report.out_dir / "responses.png")
    report.section("Setup", budget_paragraph(opts),
                   "Response: the output of the BN after every 3x3 convolution (the stem's "
                   "too), before the addition and the ReLU; its std pooled over every test "
                   "image, channel and position, in eval mode (BN running statistics).")
    report.figure(fig, f"Std of each 3x3 layer's response (seed {first}'s nets): in network "
                  "order (top) and sorted by magnitude (bottom). Dashed: plain nets; solid: "
                  "ResNets.")
    rows = []
    for m in models:
        values = list(stds[m].values())
        ordered = sorted_stds(values)
        tests = [r.final("test_error") for r in records if r.spec.tags["model"] == m]
        tests = [t for t in tests if t is not None]
        rows.append([display(m), len(values), fmt_pct(mean_of[m], 3),
                     " / ".join(f"{v:.3f}" for v in mean_by_seed[m]),
                     fmt_pct(ordered[0], 3), fmt_pct(ordered[-1], 3),
                     fmt_pct(sum(tests) / len(tests) if tests else None)])
    report.section("Per net")
    report.table(["net", "3x3 layers", "mean std", "mean std per seed",
                  f"largest (seed {first})", f"smallest (seed {first})", "test error (%)"],
                 rows)
    verdict_lines, verdicts = [], {}

    def smaller(m: str, than: str, who: str) -> dict[str, Any]:
        """Is m's mean response std below `than`'s by more than the tolerance, per seed?"""
        per_seed = [compare(a, b, RELATIVE_TOLERANCE * b)
                    for a, b in zip(mean_by_seed[m], mean_by_seed[than])]
        status, head = overall(per_seed)
        text = (f"{head}: mean std {mean_of[m]:.3f} ({display(m)}) vs {mean_of[than]:.3f} "
                f"({display(than)}); in each seed {who} must be lower by more than "
                f"{100 * RELATIVE_TOLERANCE:.0f}%.")
        return {"status": status, "text": text, "per_seed": per_seed}

    kinds = {r.spec.tags["model"]: (r.spec.tags["kind"], r.spec.tags["depth"]) for r in records}
    for m, (kind, depth) in kinds.items():
        twin = f"plain{depth}"
        if kind == "resnet" and twin in mean_of:
            v = verdicts[f"{m}_vs_{twin}"] = smaller(m, twin, "the ResNet")
            verdict_lines.append(f"- ResNet responses smaller than the plain twin's at depth "
                                 f"{depth}: {v['text']}")
    res = {d: m for m, (k, d) in kinds.items() if k == "resnet"}
    if len(res) >= 2:
        v = smaller(res[max(res)], res[min(res)], "the deeper net")
        verdicts["resnet_depth"] = {"claim": "Deeper ResNets have smaller responses", **v}
        verdict_lines.append(f"- Deeper ResNets have smaller responses: {v['text']}")
    report.section("Verdicts", *verdict_lines,
                   "The paper (CIFAR-10, 64k iterations): ResNets' responses are generally "
                   "smaller than their plain counterparts', and deeper ResNets' smaller "
                   "still: residual functions are closer to zero than non-residual ones.")
    return {"stds": stds, "mean_std": mean_of, "mean_std_per_seed": mean_by_seed,
            "seeds": seeds, "verdicts": verdicts, "figures": [fig.name]}
