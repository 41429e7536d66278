"""`resnetlab analyze gradients|responses`: measurements on networks, with a figure."""

from __future__ import annotations

from pathlib import Path

import torch

from resnetlab.analysis.depth_gradients import compare_families, summary_table
from resnetlab.analysis.gradients import analyze_gradients, table
from resnetlab.analysis.plots import require
from resnetlab.analysis.report import command_line, markdown_table
from resnetlab.analysis.responses import dataset_stds, sorted_stds
from resnetlab.data.sets.sources import builtin_name, resolve_data


def run_gradients(args) -> int:
    require("analyze gradients")
    torch_threads(args.threads)
    data = builtin_name(args.data) or args.data
    if args.families or args.depths:
        return run_families(args, data)
    if not args.models:
        raise ValueError("name the models to profile (plain56 resnet56), or compare families "
                         "with --families plain,original,preact --depths 20,56,110")
    out = Path(args.out or f"results/gradients-{data}")
    path, profiles = analyze_gradients(args.models, out, data=data, steps=args.steps,
                                       batch_size=args.batch_size or 128, lr=args.lr,
                                       seed=args.seed,
                                       root=args.data_root, command=command_line())
    print(markdown_table(*table(profiles)))
    print(f"\nreport: {path}")
    return 0


def run_families(args, data: str) -> int:
    if args.models:
        raise ValueError(f"give either models ({' '.join(args.models)}) or --families/--depths, "
                         "not both")
    families = split_list(args.families or "plain,original,preact", "--families", str)
    depths = split_list(args.depths or "20,56,110", "--depths", int)
    out = Path(args.out or f"results/gradients-families-{data}")
    path, payload = compare_families(families, depths, out, data=data,
                                     batch_size=args.batch_size or 32, seed=args.seed,
                                     root=args.data_root, command=command_line())
    print(markdown_table(*summary_table(payload["results"])))
    print(f"\nreport: {path}")
    return 0


def split_list(text: str, option: str, kind: type) -> list:
    """'a,b,c' -> [a, b, c] of KIND; a bad item is refused naming the option."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    try:
        values = [kind(t) for t in items]
    except ValueError:
        raise ValueError(f"{option} takes a comma-separated list of {kind.__name__}s, got "
                         f"{text!r}") from None
    if not values:
        raise ValueError(f"{option} is empty")
    return values


def run_responses(args) -> int:
    torch_threads(args.threads)
    data = resolve_data(args.data, folders=False)
    for model in args.models:
        stds = dataset_stds(model, data, root=args.data_root, kind=args.kind,
                            limit=args.limit)
        values = list(stds.values())
        print(f"{model}: {len(values)} layers, mean std {sum(values) / len(values):.4f}")
        print("  by layer: " + " ".join(f"{v:.3f}" for v in values))
        print("  sorted:   " + " ".join(f"{v:.3f}" for v in sorted_stds(values)))
    return 0


def torch_threads(n: int | None) -> None:
    if n:
        torch.set_num_threads(n)


def register(sub) -> None:
    p = sub.add_parser("analyze", help="gradient norms and layer responses of networks")
    asub = p.add_subparsers(dest="analysis", metavar="WHAT", required=True)

    g = asub.add_parser("gradients", help="gradient norm per conv at init and after k steps")
    g.add_argument("models", nargs="*", metavar="MODEL",
                   help="registry names (plain56 resnet56) or trained model files")
    g.add_argument("--families", help="compare families at init instead, per block: e.g. "
                   "plain,original,preact (default when --depths is given)")
    g.add_argument("--depths", help="depths for --families, e.g. 20,56,110,164,1202 "
                   "(preact 164 and 1001 are bottleneck nets; default 20,56,110)")
    g.add_argument("--data", default="synthetic",
                   help="cifar10, cifar100, fashion-mnist, mnist or synthetic (default)")
    g.add_argument("--data-root", help="where the data set lies (default: found or fetched)")
    g.add_argument("--steps", type=int, default=50, help="SGD steps before the second look")
    g.add_argument("--batch-size", type=int,
                   help="images per batch (default: 128; 32 with --families)")
    g.add_argument("--lr", type=float, default=0.1, help="learning rate of the SGD steps")
    g.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    g.add_argument("--threads", type=int, help="torch CPU threads")
    g.add_argument("--out", help="folder for report.md, gradients.png, results.json "
                   "(default results/gradients-DATA)")
    g.set_defaults(func=run_gradients)

    r = asub.add_parser("responses", help="std of every 3x3 layer's response (Fig. 7)")
    r.add_argument("models", nargs="+", metavar="MODEL", help="model files or run folders")
    r.add_argument("--data", required=True, help="cifar10, cifar100, fashion-mnist or mnist "
                   "(or an alias: fmnist, cifar-10, ...)")
    r.add_argument("--data-root", help="folder holding the data set (default: search)")
    r.add_argument("--kind", choices=("3x3", "branch"), default="3x3",
                   help="3x3: every 3x3 layer (the paper's); branch: each block's F(x)")
    r.add_argument("--limit", type=int, help="use only the first N test images")
    r.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    r.set_defaults(func=run_responses)
