"""`resnetlab data get|info NAME`: fetch a data set, or describe it (sizes, classes, mean/std)."""

from __future__ import annotations

import json
from pathlib import Path

from resnetlab.data.sets.datasets import describe
from resnetlab.data.sets.folders import describe_folder
from resnetlab.data.sets.sources import ensure


def format_info(info: dict) -> str:
    lines = [f"{info['name']}: {info['format']} at {info['location']}"]
    if "shape" in info:
        lines.append(f"  image shape: {'×'.join(map(str, info['shape']))} (C×H×W, uint8)")
    for split, s in info["splits"].items():
        lines.append(f"  {split}: {s['size']:,} images")
    if "mean" in info:
        fmt = ", ".join
        lines.append(f"  train mean: {fmt(f'{v:.4f}' for v in info['mean'])}   "
                     f"std: {fmt(f'{v:.4f}' for v in info['std'])}  (per channel, 0..1)")
    lines.append(f"  {len(info['classes'])} classes (" + ", ".join(info["splits"]) + " counts):")
    counts = [s["class_counts"] for s in info["splits"].values()]
    width = max(len(c) for c in info["classes"])
    for i, name in enumerate(info["classes"]):
        lines.append(f"    {i:>3} {name:<{width}}  " + "  ".join(f"{c[i]:>7,}" for c in counts))
    if info.get("skipped"):
        lines.append(f"  skipped {len(info['skipped'])} link(s) or non-regular file(s), never "
                     "followed or opened (to use such images, copy them into the folder):")
        lines += [f"    {s['path']}: {s['reason']}" for s in info["skipped"]]
    return "\n".join(lines)


def run(args) -> int:
    if args.action == "get":
        found = ensure(args.name, args.root, progress=not args.no_progress)
        print(f"{found.source.name}: {found.layout.format} files in {found.folder}")
        return 0
    if Path(args.name).is_dir():
        info = describe_folder(args.name)
    else:
        info = describe(args.name, args.root, download=not args.offline,
                        progress=not args.no_progress)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0


def register(sub) -> None:
    p = sub.add_parser("data", help="fetch a data set or describe it")
    p.add_argument("action", choices=["get", "info"],
                   help="get: find or download it; info: sizes, classes, mean/std")
    p.add_argument("name", help="cifar10, cifar100, mnist, fashion-mnist, or an alias (fmnist, "
                   "cifar-10, ...; info: or an image folder)")
    p.add_argument("--root", help="folder searched first and downloaded into (default: "
                   "$RESNETLAB_DATA, then ~/.cache/resnetlab)")
    p.add_argument("--json", action="store_true", help="info as one JSON object")
    p.add_argument("--offline", action="store_true", help="info: never download")
    p.add_argument("--no-progress", action="store_true", help="no download progress bar")
    p.set_defaults(func=run)
