"""`resnetlab weights list|get`: published weights by name (torchvision, Idelbayev's CIFAR-10)."""

from __future__ import annotations

import json
import sys


def format_table(rows: list[dict]) -> str:
    head = ["name", "model", "trained on", "top-1 %", "top-5 %", "input", "cached"]
    body = [[r["name"], r["model"] + (" (v1.5)" if not r["overrides"].get("stride_in_1x1", True)
                                      else ""),
             r["dataset"], f"{r['accuracy']['top1']:.2f}",
             f"{r['accuracy']['top5']:.2f}" if "top5" in r["accuracy"] else "",
             "x".join(str(v) for v in r["input_size"][1:]), "yes" if r["cached"] else ""]
            for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    right = {3, 4}

    def fmt(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(b) for b in body])


def run_list(args) -> int:
    from resnetlab.weights import cache_dir, cache_path, list_weights

    rows = [{**w.row(), "cache_path": str(cache_path(w)), "cached": cache_path(w).is_file()}
            for w in list_weights()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(format_table(rows))
    print(f"\ncache: {cache_dir()} ($RESNETLAB_CACHE). Accuracy as published: torchvision's "
          "and timm's ImageNet-1k val (one 224 crop), Idelbayev's CIFAR-10 test set. Details "
          "and URLs: --json; fetch one: `resnetlab weights get NAME`.")
    return 0


def run_get(args) -> int:
    from resnetlab.weights import ChecksumError, WeightsNotAvailable, fetch, get_weights

    w = get_weights(args.name)
    try:
        path = fetch(w, download=not args.offline, progress=not args.quiet)
    except (WeightsNotAvailable, ChecksumError) as e:
        print(f"resnetlab weights get: error: {e}", file=sys.stderr)
        return 1
    print(f"{w.name}: {path} (SHA-256 starts {w.checksum}, as published)")
    if args.out:
        from resnetlab.checkpoint import save_model
        from resnetlab.weights import load_pretrained

        model, report = load_pretrained(w.model, w, progress=not args.quiet)
        out = save_model(args.out, model, w.meta())
        print(f"converted: {out} ({w.model} {w.overrides}, {w.num_classes} classes, "
              f"{w.dataset} normalisation; predict/evaluate/export read it as it is)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("weights", help="list and fetch published weights (torchvision, "
                                       "timm, Idelbayev's CIFAR-10 nets)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", help="every published file: model, accuracy, cache state")
    ls.add_argument("--json", action="store_true",
                    help="print every field: URL, checksum, classes' data set, normalisation")
    ls.set_defaults(func=run_list)
    get = verbs.add_parser("get", help="download (or find in the cache) and verify one file")
    get.add_argument("name", help="a name from `resnetlab weights list`, e.g. cifar10-resnet20")
    get.add_argument("--out", metavar="PATH",
                     help="also write it as a resnetlab model file (.safetensors, or a folder) "
                          "with its class names and normalisation")
    get.add_argument("--offline", action="store_true",
                     help="never download: say where to put the file instead")
    get.add_argument("--quiet", action="store_true", help="no progress bar")
    get.set_defaults(func=run_get)
