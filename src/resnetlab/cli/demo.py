"""`resnetlab demo` (what `make demo` runs): Fashion-MNIST found or fetched, the demo recipe
trained, the model evaluated, and the report and curves pointed at."""

from __future__ import annotations

import time
from pathlib import Path

from resnetlab.analysis.plots import plot_confusion
from resnetlab.cli.evaluate import format_eval
from resnetlab.cli.train import format_result, key_type
from resnetlab.data import ensure
from resnetlab.train import evaluate_checkpoint, fit, load_recipe
from resnetlab.train.config import describe
from resnetlab.train.run_folder import is_finished


def run(args) -> int:
    t0 = time.perf_counter()
    overrides = {"device": args.device} if args.device else {}
    config = load_recipe("demo", overrides, rescale=True)
    found = ensure(config.data, config.data_root)
    print(f"{config.data}: {found.folder}", flush=True)
    out = Path(args.out)
    if not is_finished(out, config) or args.force:
        print(f"training {config.model} on {config.data} with the demo recipe ({config.epochs:g} "
              f"epochs, {config.schedule} lr {config.lr}, label smoothing "
              f"{config.label_smoothing}, "
              f"nesterov) into {out}", flush=True)
    result = fit(config, out, resume=True, force=args.force)
    print(format_result(result), flush=True)
    r = evaluate_checkpoint(out, split="test", device=config.device)
    print("\n" + format_eval(r))
    try:  # matplotlib is optional (the plots extra)
        png = plot_confusion(r["confusion"], r["classes"], out / "confusion.png",
                             title=f"{r['model']} on {r['data']} test")
    except ImportError as e:
        pictures = f"no curves or confusion matrix: {e}"
    else:
        pictures = f"curves:  {out / 'curves.png'}\nconfusion matrix: {png}"
    last = result.metrics[-1]  # the final model's row: its test took eval_seconds
    trained = last["wall_time"] + last.get("eval_seconds", 0.0)
    print(f"\ntest accuracy {100 - r['top1_error']:.2f}% after {trained:.0f} s of training "
          f"(first step to final model, its test included; {time.perf_counter() - t0:.0f} s "
          f"this command)\nreport:  {out / 'report.md'}\n{pictures}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="the README demo: train ResNet-20 on Fashion-MNIST (CPU ok)")
    p.add_argument("--out", default="runs/demo", help="run folder (default: runs/demo)")
    p.add_argument("--device", type=key_type("device"), help=describe("device"))
    p.add_argument("--force", action="store_true",
                   help="start over when --out holds a different run")
    p.set_defaults(func=run)
