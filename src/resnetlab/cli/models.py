"""`resnetlab models`: the model zoo as a table, JSON or markdown (docs/models.md)."""

from __future__ import annotations

import json

from resnetlab.analysis.report import markdown_table
from resnetlab.models.papers import PAPERS
from resnetlab.models.registry import get_spec, list_models
from resnetlab.models.sizes import model_sizes

NOTE = ("MACs: conv + fc, one image at the native resolution (32 px CIFAR, 224 px ImageNet). "
        "Paper error: top-1 test error in % as the net's paper prints it (CIFAR-10 test set; "
        "ImageNet val: the 2015 paper's 10-crop, the others' single crop), where it gives one.")


def model_rows(pattern: str | None = None, sizes: bool = True) -> list[dict]:
    """One row per registered model: its family and paper, its parameters and MACs at native
    resolution (counted on the meta device and cached: resnetlab.models.sizes; None with
    sizes=False), and what its paper prints for it."""
    names = list_models(pattern)
    counts = model_sizes(names) if sizes else dict.fromkeys(names, (None, None))
    rows = []
    for name in names:
        spec = get_spec(name)
        paper = PAPERS[spec.paper]
        rows.append(
            {
                "name": name,
                "family": spec.family,
                "dataset": spec.dataset,
                "paper": spec.paper,
                "paper_arxiv": paper.arxiv,
                "paper_cite": paper.cite,
                "depth": spec.depth,
                "block": spec.block,
                "shortcut": spec.default_shortcut or "none",
                "params": counts[name][0],
                "macs": counts[name][1],
                "resolution": spec.resolution,
                "published_params": spec.params,
                "params_source": spec.params_source or None,
                "paper_error": spec.paper_error,
                "paper_source": spec.paper_source or None,
            }
        )
    return rows


def _macs(n: int | None) -> str:
    if n is None:
        return ""
    return f"{n / 1e9:.2f}G" if n >= 1e9 else f"{n / 1e6:.2f}M"


def table_cells(r: dict) -> list[str]:
    """A row's cells, in HEAD's order (params and MACs blank when not counted)."""
    return [r["name"], r["family"], r["paper_arxiv"], str(r["depth"]), r["block"],
            "" if r["params"] is None else f"{r['params']:,}", _macs(r["macs"]),
            "" if r["paper_error"] is None else f"{r['paper_error']:.2f}",
            r["paper_source"] or ""]


HEAD = ["name", "family", "paper (arXiv)", "depth", "block", "params", "MACs", "paper err %",
        "where"]


def format_table(rows: list[dict]) -> str:
    body = [table_cells(r) for r in rows]
    widths = [max(len(x) for x in col) for col in zip(HEAD, *body)]
    right = {3, 5, 6, 7}

    def fmt(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    lines = [fmt(HEAD), fmt(["-" * w for w in widths])] + [fmt(b) for b in body]
    return "\n".join(lines)


def format_markdown(rows: list[dict]) -> str:
    """The rows as a GitHub table, then the papers they cite (docs/models.md is this)."""
    table = markdown_table(HEAD, [table_cells(r) for r in rows], align="lllrlrrrl")
    return table + "\n\n" + papers_cited(rows, bullet="- ")


def papers_cited(rows: list[dict], bullet: str = "  ") -> str:
    seen = dict.fromkeys((r["paper_arxiv"], r["paper_cite"]) for r in rows)
    return "\n".join(f"{bullet}arXiv {a}: {c}" for a, c in seen)


def run(args) -> int:
    rows = model_rows(args.pattern)
    if not rows:
        raise ValueError(f"no model matches {args.pattern!r}")
    if args.json:
        print(json.dumps(rows, indent=2))
    elif args.markdown:
        print(format_markdown(rows))
    else:
        print(format_table(rows))
        print(f"\n{NOTE}\nPapers:\n{papers_cited(rows)}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("models", help="list the model zoo with sizes and the papers' errors")
    p.add_argument("pattern", nargs="?", help="shell wildcard, e.g. 'resnet*' or 'wrn*'")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the rows as JSON")
    out.add_argument("--markdown", action="store_true",
                     help="print a markdown table and the papers (docs/models.md)")
    p.set_defaults(func=run)
