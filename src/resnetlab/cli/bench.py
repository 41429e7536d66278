"""`resnetlab bench data|train|infer`: throughput measurements (results go to benchmarks/).

The argument parsing of the three benches; what they measure is in resnetlab.bench.
"""

from __future__ import annotations

import argparse
import json

import torch

from resnetlab.bench.data import bench_data, format_data
from resnetlab.bench.infer import (
    BACKENDS,
    DTYPES,
    MATRIX,
    SCHEMA,
    Variant,
    bench_infer,
    format_result,
)
from resnetlab.bench.train import bench_train, format_bench
from resnetlab.train.config import TrainConfig, coerce


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure data, training or inference throughput")
    bsub = p.add_subparsers(dest="bench", metavar="WHAT", required=True)
    for add in BENCHES:
        add(bsub)


def run_data(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    result = bench_data(args.data, root=args.root, batch_size=args.batch_size,
                        batches=args.batches, device=args.device,
                        channels_last=args.channels_last, model=args.model, steps=args.steps,
                        workers=args.workers, transform=args.transform, images=args.images,
                        augment=args.augment, magnitude=args.magnitude, mixup=args.mixup,
                        cutmix=args.cutmix)
    print(json.dumps(result) if args.json else format_data(result))
    return 0


def run_train(args) -> int:
    config = TrainConfig(epochs=1)
    for key, value in (("device", args.device), ("amp", args.amp), ("compile", args.compile),
                       ("channels_last", args.channels_last)):
        if value is not None:
            setattr(config, key, coerce(key, value))
    config.validate()
    if args.threads:
        torch.set_num_threads(args.threads)
    r = bench_train(args.model, args.batch_size, args.steps, args.rounds, args.image_size,
                    args.channels, config=config, baseline=not args.no_baseline)
    print(json.dumps(r) if args.json else format_bench(r))
    return 0


def run_infer(args: argparse.Namespace) -> int:
    variants = MATRIX if args.matrix else [
        Variant(args.backend, args.fold_bn, args.channels_last, args.dtype)]
    r = bench_infer(args.model, args.checkpoint, args.batch_size, variants,
                    baseline=not args.no_baseline, seconds=args.seconds, rounds=args.rounds,
                    threads=args.threads, image_size=args.image_size)
    print(json.dumps(r, indent=2) if args.json else format_result(r))
    return 0


def _register_data(bsub) -> None:
    p = bsub.add_parser("data", help="input-pipeline throughput (images/s)")
    p.add_argument("--data", required=True,
                   help="a data set name (fashion-mnist, cifar10, ...), cifar-shaped or "
                        "mnist-shaped (random uint8), an image folder, or synthetic-jpeg")
    p.add_argument("--root", help="data folder (as for `resnetlab data get`)")
    p.add_argument("--batch-size", type=int, default=128, help="images per batch (default: 128)")
    p.add_argument("--batches", type=int, help="batches timed after warm-up (default: 200 for "
                   "small sets, 16 for folders)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (default: cpu)")
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    p.add_argument("--model", default="resnet20",
                   help="network whose train step the loader is compared with, or none")
    p.add_argument("--steps", type=int, default=4, help="train steps timed (median)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                   help="FolderLoader worker counts to measure")
    p.add_argument("--transform", default="scale", help="FolderLoader train transform")
    p.add_argument("--images", type=int, default=512, help="synthetic-jpeg: how many")
    p.add_argument("--augment", default="none", help="small sets: batch augmentation policy "
                   "(none, randaugment, trivialaugment, autoaugment-cifar10, "
                   "autoaugment-imagenet)")
    p.add_argument("--magnitude", type=float, default=9.0,
                   help="RandAugment magnitude, 0..10 (default: 9)")
    p.add_argument("--mixup", type=float, default=0.0, help="small sets: mixup alpha (0 = off)")
    p.add_argument("--cutmix", type=float, default=0.0, help="small sets: CutMix alpha (0 = off)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=run_data)


def _register_train(bsub) -> None:
    p = bsub.add_parser("train", help="training-step throughput: engine vs plain fp32 eager")
    p.add_argument("--model", default="resnet20", help="registry name (default: resnet20)")
    p.add_argument("--batch-size", type=int, default=128, help="images per batch (default: 128)")
    p.add_argument("--steps", type=int, default=10, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (median kept)")
    p.add_argument("--image-size", type=int, help="default: the model's native resolution")
    p.add_argument("--channels", type=int, default=3, help="input channels (default: 3)")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N (default: auto)")
    p.add_argument("--amp", choices=("auto", "bf16", "fp16", "off"), help="mixed precision")
    p.add_argument("--compile", action="store_true", default=None, help="use torch.compile")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction,
                   default=None, help="channels-last memory format (default: on, as training)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: auto)")
    p.add_argument("--no-baseline", action="store_true", help="skip the plain fp32 step")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_train)


def _register_infer(bsub) -> None:
    p = bsub.add_parser("infer", help="inference latency / images/s of a backend vs eager fp32")
    p.add_argument("--model", help="registry name (random weights: speed only)")
    p.add_argument("--checkpoint", help="model file or run folder (its input size is used)")
    p.add_argument("--batch-size", type=int, default=16, help="measured with batch 1 (default 16)")
    p.add_argument("--backend", choices=BACKENDS, default="eager",
                   help="runtime to time (default: eager)")
    p.add_argument("--fold-bn", action="store_true", help="fold BatchNorm into the convs")
    p.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    p.add_argument("--dtype", choices=list(DTYPES), default="fp32",
                   help="number format of the weights and inputs (default: fp32)")
    p.add_argument("--matrix", action="store_true",
                   help="measure every backend/folding/layout/dtype combination side by side")
    p.add_argument("--image-size", type=int, help="override the input resolution")
    p.add_argument("--seconds", type=float, default=6.0,
                   help="measuring time per (variant, batch), split over rounds")
    p.add_argument("--rounds", type=int, default=3, help="alternating timed rounds (default: 3)")
    p.add_argument("--threads", type=int, help="torch / ONNX Runtime threads")
    p.add_argument("--no-baseline", action="store_true", help="skip the eager fp32 baseline")
    p.add_argument("--json", action="store_true", help=f"one JSON object ({SCHEMA})")
    p.set_defaults(func=run_infer)


# Each adds one `bench WHAT` parser.
BENCHES = [_register_data, _register_train, _register_infer]
