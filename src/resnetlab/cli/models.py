"""`resnetlab models`: the model zoo as a table (or JSON)."""

from __future__ import annotations

import json

import torch

from resnetlab.models.registry import build_model, get_spec, list_models
from resnetlab.models.stats import count_macs, count_params


def model_rows(pattern: str | None = None) -> list[dict]:
    """One row per registered model, with its parameters and MACs at native resolution
    (counted on the meta device: shapes, no arithmetic)."""
    rows = []
    for name in list_models(pattern):
        spec = get_spec(name)
        with torch.device("meta"):  # shapes only: counting a 127M-parameter net costs nothing
            model = build_model(name)
        r = spec.resolution
        rows.append(
            {
                "name": name,
                "family": spec.family,
                "dataset": spec.dataset,
                "paper": spec.paper,
                "depth": spec.depth,
                "block": spec.block,
                "shortcut": spec.default_shortcut or "none",
                "params": count_params(model),
                "macs": count_macs(model, (1, 3, r, r)),
                "resolution": r,
                "paper_error": spec.paper_error,
                "paper_source": spec.paper_source or None,
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    head = ["name", "family", "depth", "block", "shortcut", "params", "MACs", "paper err %"]
    body = [
        [
            r["name"], r["family"], str(r["depth"]), r["block"], r["shortcut"],
            f"{r['params']:,}",
            f"{r['macs'] / 1e9:.2f}G" if r["macs"] >= 1e9 else f"{r['macs'] / 1e6:.2f}M",
            "" if r["paper_error"] is None else f"{r['paper_error']:.2f}",
        ]
        for r in rows
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    right = {2, 5, 6, 7}
    def fmt(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    lines = [fmt(head), fmt(["-" * w for w in widths])] + [fmt(b) for b in body]
    return "\n".join(lines)


def run(args) -> int:
    rows = model_rows(args.pattern)
    if not rows:
        raise ValueError(f"no model matches {args.pattern!r}")
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows))
        print("\nMACs: conv + fc, one image at the native resolution (32 px CIFAR, 224 px "
              "ImageNet). Paper error: top-1 test error (CIFAR-10 Table 6; ImageNet 10-crop).")
    return 0


def register(sub) -> None:
    p = sub.add_parser("models", help="list the model zoo with sizes and the paper's errors")
    p.add_argument("pattern", nargs="?", help="shell wildcard, e.g. 'resnet*' or 'plain??'")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(func=run)
