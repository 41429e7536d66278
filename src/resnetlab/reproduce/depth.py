"""Test error against depth (paper Table 6): ResNet-20/32/44/56/110 (1202 on request), each
over --seeds runs, beside the paper's and published reproductions' numbers."""

from __future__ import annotations

from typing import Any

from resnetlab.analysis.figures import depth_figure
from resnetlab.analysis.report import Report, fmt_mean_std, fmt_pct
from resnetlab.paper import CIFAR10_ERRORS
from resnetlab.reproduce.experiment import (
    Options,
    budget_paragraph,
    final_test_error,
    group,
    model_size,
    run_spec,
    seeds_of,
)
from resnetlab.reproduce.runner import RunRecord, RunSpec
from resnetlab.reproduce.verdicts import trend

TITLE = "Test error against depth (paper Table 6)"
# quick: ResNet-110 alone would cost ~40% of a seed's hour on a 2-core CPU (--depths adds it)
DEPTHS = {"smoke": (8, 14), "quick": (20, 32, 44, 56), "paper": (20, 32, 44, 56, 110)}
# Published test errors (%), per data set: (column name, {depth: error}).
REFERENCES: dict[str, list[tuple[str, dict[int, float]]]] = {
    "cifar10": [
        ("paper (Table 6)", CIFAR10_ERRORS),
        ("Idelbayev (best-on-test)",
         {20: 8.27, 32: 7.37, 44: 6.90, 56: 6.61, 110: 6.32, 1202: 6.18}),
    ],
    "fashion-mnist": [
        ("Zhong et al. (Random Erasing paper, baseline)",
         {20: 4.39, 32: 4.16, 44: 4.41, 56: 4.39, 110: 4.40}),
    ],
}


def plan(opts: Options) -> list[RunSpec]:
    depths = opts.depths or DEPTHS[opts.budget]
    return [
        run_spec(opts, f"resnet{d}", seed, {"depth": d})
        for d in depths for seed in seeds_of(opts)
    ]


def analyze(records: list[RunRecord], opts: Options, report: Report) -> dict[str, Any]:
    refs = REFERENCES.get(opts.data, [])
    rows = []
    for (depth,), runs in group(records, "depth").items():
        mean, std, n = final_test_error(runs)
        row = {"depth": depth, "params": model_size(runs[0])[0], "mean": mean, "std": std,
               "n": n, "references": {name: vals.get(depth) for name, vals in refs}}
        row["reference"] = next(iter(row["references"].values()), None)
        rows.append(row)
    report.section("Setup", budget_paragraph(opts),
                   "Each number is the FINAL model's test error (no model is chosen on the "
                   "test set); mean ± sample std over seeds. The difference column is ours "
                   "minus the first published column.")
    headers = ["net", "params", "test error (%)"] + [n for n, _ in refs]
    if refs:
        headers.append("difference")
    body = []
    for r in rows:
        line = [f"ResNet-{r['depth']}", f"{r['params']:,}", fmt_mean_std(r["mean"], r["std"],
                                                                        r["n"])]
        line += [fmt_pct(r["references"][n]) for n, _ in refs]
        if refs:
            ref = r["reference"]
            line.append("—" if ref is None or r["mean"] is None else f"{r['mean'] - ref:+.2f}")
        body.append(line)
    report.section("Results")
    report.table(headers, body)
    if not refs:
        report.text(f"No published numbers are on record for {opts.data}; the paper's are "
                    "for CIFAR-10.")
    fig = depth_figure(rows, report.out_dir / "depth.png",
                       refs[0][0] if refs else "published")
    report.figure(fig, "Final test error against depth (mean ± std over seeds) beside the "
                  "published numbers.")
    values = {r["depth"]: r["mean"] for r in rows if r["mean"] is not None}
    result: dict[str, Any] = {"rows": rows, "figures": [fig.name]}
    if len(values) >= 2:
        v = trend(values, "down", "Deeper ResNets reach lower test error", "test error",
                  stds={r["depth"]: r["std"] for r in rows})
        report.section("Verdict", f"- {v.claim}: {v.text}",
                       "The paper sees the error fall from 20 to 110 layers and rise again at "
                       "1202 (overfitting).")
        result["verdict"] = v.to_dict()
    return result
