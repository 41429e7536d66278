"""`resnetlab convert IN OUT --source ...`: import a foreign checkpoint as safetensors."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import save_file

from resnetlab.io import atomic_write
from resnetlab.models.convert import SOURCES, import_checkpoint
from resnetlab.weights.metadata import read_classes_file, source_meta


def run(args) -> int:
    model, name, overrides = import_checkpoint(args.input, args.source, args.model)
    out = Path(args.output)
    if out.suffix != ".safetensors":
        raise ValueError(f"{out}: the output must be a .safetensors file")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    # Class names and normalisation make the file enough for predict/evaluate/export.
    described = {"model": name, "overrides": overrides, "source": args.source,
                 "converted_from": Path(args.input).name,
                 **source_meta(args.source, name, overrides)}
    if args.classes:
        described["classes"] = read_classes_file(args.classes, overrides["num_classes"])
        described.pop("dataset", None)  # other classes: not the source's data set
    meta = {"model": name, "overrides": json.dumps(overrides), "source": args.source,
            "converted_from": Path(args.input).name,
            "resnetlab": json.dumps(described, sort_keys=True)}
    atomic_write(out, lambda tmp: save_file(state, tmp, metadata=meta))
    print(f"{args.input} ({args.source}) -> {out}: {name} {overrides}")
    if not described.get("classes"):
        print(f"no class names for {overrides['num_classes']} classes: predict prints indices "
              "(give them with --classes FILE)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("convert", help="import a torchvision/timm/cifar-reference checkpoint")
    p.add_argument("input", help="checkpoint file (.pth/.th/.pt or .safetensors)")
    p.add_argument("output", help="output .safetensors file")
    p.add_argument("--source", required=True, choices=SOURCES, help="format of the input")
    p.add_argument("--model", help="registry name, when it cannot be inferred from the keys")
    p.add_argument("--classes", metavar="FILE",
                   help="class names, one per line (or a JSON list); default: the source's own "
                        "(ImageNet-1k for torchvision/timm, CIFAR-10 for cifar-reference)")
    p.set_defaults(func=run)
