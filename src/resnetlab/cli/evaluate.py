"""`resnetlab evaluate CHECKPOINT`: top-1/top-5 error, per-class accuracy, confusion matrix."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from resnetlab.analysis.plots import plot_confusion
from resnetlab.checkpoint import resolve_model_path
from resnetlab.data.sets.sources import builtin_name
from resnetlab.io import atomic_write_text, check_writable
from resnetlab.train import evaluate_checkpoint
from resnetlab.train.run_folder import CONFIG_FILE, hold
from resnetlab.train.run_report import CONFUSION_MAX_CLASSES


def format_eval(r: dict) -> str:
    views = "" if r.get("views", "center") == "center" else f", {r['views']}"
    top5 = f", top-5 error {r['top5_error']:.2f}%" if len(r["classes"]) > 5 else ""
    lines = [f"{r['model']} on {r['data']} {r['split']} ({r['n']} images{views}): top-1 error "
             f"{r['top1_error']:.2f}% (accuracy {100 - r['top1_error']:.2f}%){top5}, "
             f"loss {r['loss']:.4f}", "", "per-class accuracy:"]
    width = max(len(c) for c in r["classes"])
    for name, acc in zip(r["classes"], r["per_class_accuracy"]):
        lines.append(f"  {name:<{width}}  " + ("   n/a" if math.isnan(acc) else f"{acc:6.2f}%"))
    return "\n".join(lines)


def run(args) -> int:
    weights = resolve_model_path(args.checkpoint)
    out = Path(args.out) if args.out else weights.parent
    with hold(out, take=(out / CONFIG_FILE).is_file()):  # a run folder: not while it trains
        return write_evaluation(args, weights, out)


def write_evaluation(args, weights: Path, out: Path) -> int:
    """Evaluate, then write the JSON (and confusion PNG) into out."""
    check_writable(out, "--out")  # before the evaluation's time is spent, not after
    data = args.data and (builtin_name(args.data) or args.data)  # else a folder, or its label
    r = evaluate_checkpoint(args.checkpoint, data=data, split=args.split,
                            data_root=args.data_root, batch_size=args.batch_size,
                            device=args.device, amp=args.amp, views=args.views)
    views = "" if r["views"] == "center" else f"-{r['views']}"
    stem = f"eval-{weights.stem}-{Path(r['data']).name}-{r['split']}{views}"
    atomic_write_text(out / f"{stem}.json", json.dumps(r, indent=2) + "\n")
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(format_eval(r))
        print(f"\nwritten: {out / (stem + '.json')}")
    if len(r["classes"]) <= CONFUSION_MAX_CLASSES:
        try:  # matplotlib is optional (the plots extra)
            png = plot_confusion(r["confusion"], r["classes"], out / f"{stem}-confusion.png",
                                 title=f"{r['model']} on {r['data']} {r['split']}")
        except ImportError as e:
            print(f"confusion matrix not drawn: {e}", file=sys.stderr)
            return 0
        if not args.json:
            print(f"confusion matrix: {png}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="measure a trained model's error on a data set")
    p.add_argument("checkpoint", help="a .safetensors model file or a run folder")
    p.add_argument("--data", help="data set (default: the one it was trained on)")
    p.add_argument("--split", default="test", choices=("test", "val", "train"),
                   help="test (default), val (the run's own held-out images) or train")
    p.add_argument("--data-root", help="folder holding the data set")
    p.add_argument("--views", default="center", choices=("center", "ten-crop", "multiscale"),
                   help="image folders: center crop, 10-crop, or the paper's multi-scale test")
    p.add_argument("--batch-size", type=int, default=512, help="images per batch (default: 512)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--amp", default="auto", choices=("auto", "bf16", "fp16", "off"),
                   help="mixed precision (default: auto)")
    p.add_argument("--out", help="folder for the JSON and PNG (default: beside the checkpoint)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)
