"""The degradation problem (paper Fig. 1 and Fig. 6): plain nets of growing depth against
ResNets of the same depths, all trained with the same recipe."""

from __future__ import annotations

from typing import Any

from resnetlab.analysis.figures import comparison_figure
from resnetlab.analysis.report import Report, fmt_mean_std, fmt_seconds
from resnetlab.reproduce.experiment import (
    Options,
    budget_paragraph,
    final_test_error,
    group,
    run_spec,
    seeds_of,
    stat,
)
from resnetlab.reproduce.runner import RunRecord, RunSpec
from resnetlab.reproduce.verdicts import trend

TITLE = "Degradation: plain nets against ResNets of the same depth (paper Fig. 1, Fig. 6)"
# quick: the claim's two ends, to fit half an hour on a 2-core CPU (--depths adds 32, 44).
DEPTHS = {"smoke": (8, 14), "quick": (20, 56), "paper": (20, 32, 44, 56)}
KINDS = ("plain", "resnet")


def plan(opts: Options) -> list[RunSpec]:
    depths = opts.depths or DEPTHS[opts.budget]
    specs = []
    for kind in KINDS:
        for depth in depths:
            for seed in seeds_of(opts):
                model = f"{kind}{depth}"
                specs.append(run_spec(opts, model, seed, {"kind": kind, "depth": depth}))
    return specs


def final_train_error(r: RunRecord) -> float | None:
    return r.tail_mean("train_error")


def curves(records: list[RunRecord], kind: str) -> list[dict[str, Any]]:
    """One curve per depth (the first seed's: the paper plots single runs)."""
    out = []
    for (k, depth), runs in group(records, "kind", "depth").items():
        if k == kind:
            r = runs[0]
            out.append({"label": f"{'plain' if kind == 'plain' else 'ResNet'}-{depth}",
                        "depth": depth, "train": r.curve("train_error"),
                        "test": r.curve("test_error")})
    return out


def table_rows(records: list[RunRecord]) -> list[dict[str, Any]]:
    rows = []
    for (kind, depth), runs in group(records, "kind", "depth").items():
        tr, tr_sd, n = stat(runs, final_train_error)
        te, te_sd, _ = final_test_error(runs)
        rows.append({"kind": kind, "depth": depth, "train_error": tr, "train_std": tr_sd,
                     "test_error": te, "test_std": te_sd, "n": n,
                     "seconds": sum(r.seconds for r in runs),
                     "images_per_second": runs[0].summary.get("train_images_per_second")})
    return rows


def verdicts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def by(kind: str, key: str) -> tuple[dict, dict]:
        sel = [r for r in rows if r["kind"] == kind and r[key] is not None]
        std_key = "train_std" if key == "train_error" else "test_std"
        return {r["depth"]: r[key] for r in sel}, {r["depth"]: r[std_key] for r in sel}

    out = {}
    claims = [
        ("plain_train", "plain", "train_error", "up",
         "Deeper plain nets end with higher training error (degradation)",
         "plain-net training error"),
        ("resnet_train", "resnet", "train_error", "down",
         "Deeper ResNets end with lower training error", "ResNet training error"),
        ("resnet_test", "resnet", "test_error", "down",
         "Deeper ResNets end with lower test error", "ResNet test error"),
    ]
    for key, kind, metric, expect, claim, what in claims:
        values, stds = by(kind, metric)
        if len(values) >= 2:
            out[key] = trend(values, expect, claim, what, stds=stds).to_dict()
    return out


def analyze(records: list[RunRecord], opts: Options, report: Report) -> dict[str, Any]:
    rows = table_rows(records)
    judged = verdicts(rows)
    fig = comparison_figure(
        [("plain", curves(records, "plain")), ("ResNet", curves(records, "resnet"))],
        report.out_dir / "degradation.png")
    report.section("Setup", budget_paragraph(opts),
                   "Final training error: mean of the logged training error (on the "
                   "augmented batches, as the paper plots it) over the last 10% of "
                   "iterations. Final test error: the final model's, on the whole test set.")
    report.figure(fig, "Training error (thin dashed) and test error (bold) against "
                  "iterations; plain nets left, ResNets right.")
    report.section("Final errors (%)")
    report.table(
        ["net", "depth", "train error", "test error", "training time", "train images/s"],
        [[("plain" if r["kind"] == "plain" else "ResNet"), r["depth"],
          fmt_mean_std(r["train_error"], r["train_std"], r["n"]),
          fmt_mean_std(r["test_error"], r["test_std"], r["n"]),
          fmt_seconds(r["seconds"]),
          "—" if r["images_per_second"] is None else f"{r['images_per_second']:.0f}"]
         for r in rows])
    report.section("Verdicts", *[f"- {v['claim']}: {v['text']}" for v in judged.values()],
                   "A claim *holds* when the deepest net differs from the shallowest in the "
                   "claimed direction by more than the tolerance shown (0.5 points, widened "
                   "by the two ends' std over seeds); the paper's Fig. 6 shows all three on "
                   "CIFAR-10 after 64k iterations.")
    return {"rows": rows, "verdicts": judged, "figures": [fig.name]}
