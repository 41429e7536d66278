"""`resnetlab predict MODEL IMAGE_OR_DIR_OR_GLOB ...`: top-k classes as a table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import sys

from resnetlab.inference.predict import BACKENDS, NON_FINITE, Predictor, predict

CSV_FIELDS = ["path", "rank", "class", "index", "probability", "error"]


def format_table(predictions: list[dict]) -> str:
    if not predictions:
        return "(no image could be classified)"
    width = max(len(p["path"]) for p in predictions)
    lines = []
    for p in predictions:
        tops = "  ".join(f"{t['class']} {t['probability']:.1%}" for t in p["top"])
        lines.append(f"{p['path']:<{width}}  {tops}")
    return "\n".join(lines)


def format_csv(result) -> str:
    """One row per (image, rank); an unreadable image is one row with only path and error."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for p in result.predictions:
        for t in p["top"]:
            w.writerow({"path": p["path"], **t, "probability": f"{t['probability']:.6g}"})
    for e in result.errors:
        w.writerow({"path": e["path"], "error": e["error"]})
    return buf.getvalue()


def run(args) -> int:
    predictor = Predictor.from_file(args.model, args.backend, args.threads)
    for note in predictor.preprocessing.notes:
        print(f"resnetlab predict: note: {note}", file=sys.stderr)
    result = predict(predictor, args.inputs, k=args.top_k, batch_size=args.batch_size,
                     workers=args.workers)
    if args.json:
        header = {"model": predictor.meta.get("model"), "model_file": str(args.model),
                  "backend": predictor.backend, "top_k": min(args.top_k, len(predictor.classes))}
        print(json.dumps(result.to_dict(**header), indent=2))
    elif args.csv:
        sys.stdout.write(format_csv(result))
    else:
        print(format_table(result.predictions))
    if not (args.json or args.csv):
        for e in result.errors:
            what = "cannot classify" if e["error"] == NON_FINITE else "cannot read"
            print(f"resnetlab predict: {what} {e['path']}: {e['error']}", file=sys.stderr)
    elif result.errors:
        print(f"resnetlab predict: {len(result.errors)} input(s) could not be read "
              "(listed in the output)", file=sys.stderr)
    return 1 if result.errors else 0


def register(sub) -> None:
    p = sub.add_parser("predict", help="classify images (files, folders, globs) with a model")
    p.add_argument("model", help="model file (.safetensors), run folder, or exported .onnx")
    p.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files, folders or globs")
    p.add_argument("--top-k", "-k", type=int, default=5, help="classes per image (default 5)")
    p.add_argument("--batch-size", type=int, default=64, help="images per batch (default: 64)")
    p.add_argument("--backend", choices=BACKENDS,
                   help="torch (default for model files) or onnxruntime (default for .onnx)")
    p.add_argument("--threads", type=int, help="compute threads (default: torch's)")
    p.add_argument("--workers", type=int, default=2, help="image-decoding threads")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the documented JSON document")
    out.add_argument("--csv", action="store_true", help="print CSV: path,rank,class,...")
    p.set_defaults(func=run)
