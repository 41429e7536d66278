"""`resnetlab export CHECKPOINT --format onnx|torchscript|exported-program --out FILE`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from resnetlab.inference.export import export_model
from resnetlab.inference.export_formats import FORMATS
from resnetlab.inference.verify import DEFAULT_TOLERANCE
from resnetlab.train.run_folder import CONFIG_FILE, hold


def run(args) -> int:
    folder = Path(args.out).parent
    created = not folder.exists()  # atomic_write creates it
    with hold(folder, take=(folder / CONFIG_FILE).is_file()):  # a run folder: not while it trains
        report = export_model(
            args.checkpoint, args.out, args.format, fold_bn=args.fold_bn,
            dynamic_batch=args.dynamic_batch, batch_size=args.batch_size, opset=args.opset,
            verify=args.verify, tolerance=args.tolerance, images=args.verify_images,
        )
    if created:
        print(f"created {folder} (it did not exist)", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    opset = f", opset {report.opset}" if report.opset else ""
    batch = "dynamic batch" if report.dynamic_batch else f"batch {args.batch_size}"
    print(f"{args.checkpoint} -> {report.path} ({report.format} via {report.exporter}{opset}, "
          f"{batch}{', BN folded' if report.fold_bn else ''}, "
          f"{report.size_bytes / 1e6:.1f} MB, {report.seconds:.1f}s)")
    for c in report.checks:
        print(f"  verified on {c.inputs:<18} batch {c.batch}: max abs diff {c.max_abs_diff:.2e} "
              f"(bound {c.bound:.1e}), top-1 agreement {c.top1_agreement:.0%}")
    if not report.checks:
        print("  not verified (--no-verify)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("export", help="export a model file to ONNX / TorchScript / "
                       "ExportedProgram, verified against PyTorch")
    p.add_argument("checkpoint", help="model file (.safetensors) or run folder")
    p.add_argument("--format", required=True, choices=list(FORMATS),
                   help="file format to write: " + " | ".join(FORMATS))
    p.add_argument("--out", required=True, help="output file (.onnx, .pt/.ts, .pt2)")
    p.add_argument("--fold-bn", action="store_true", help="fold BatchNorm into the convs")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--dynamic-batch", dest="dynamic_batch", action="store_true", default=True,
                   help="any batch size (the default)")
    g.add_argument("--static-batch", dest="dynamic_batch", action="store_false",
                   help="fix the batch size at --batch-size (onnx, exported-program)")
    p.add_argument("--batch-size", type=int, default=1, help="the fixed batch of --static-batch")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's; <18 uses "
                   "the TorchScript-based exporter)")
    p.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                   help="max abs logit difference allowed (scaled by max(1, |logit|))")
    p.add_argument("--verify-images", nargs="+", metavar="PATH",
                   help="real images (files, folders, globs) to add to the check")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="skip the check against PyTorch")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)
