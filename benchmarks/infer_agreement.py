"""Do the fast inference paths give the same top-1 as eager fp32 on real images?

Real Fashion-MNIST test images go through predict's preprocessing (upscaled, gray -> RGB for
3-channel nets) into a model, once per backend variant; we report top-1 agreement with eager
fp32, top-1 accuracy, the max abs logit difference, and whether that difference is below
half the smallest top-1/top-2 margin (then agreement is exact by construction).

Without --checkpoint the model is a "probe": the named net with random conv weights, BN
statistics calibrated on --train real images, and its fc fitted by ridge regression on their
pooled features, so its predictions (and accuracy) are those of a real classifier.

    .venv/bin/python benchmarks/infer_agreement.py --model resnet50 --size 224 \
        --train 500 --test 500 --out benchmarks/results/infer-agreement-resnet50.json
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from PIL import Image

from resnetlab import create_model
from resnetlab.bench.infer import MATRIX, prepare
from resnetlab.checkpoint import load_model
from resnetlab.data import load_dataset
from resnetlab.inference.preprocessing import Preprocessing
from resnetlab.io import atomic_write_text
from resnetlab.provenance import machine, versions


def fashion_mnist(split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n images (N×28×28 uint8) and labels of a Fashion-MNIST split."""
    ds = load_dataset("fashion-mnist", split, download=False, progress=False)
    return ds.images[:n, 0].numpy(), ds.labels[:n].numpy()


def inputs(images: np.ndarray, pre: Preprocessing) -> torch.Tensor:
    out = [np.asarray(pre.fit(Image.fromarray(im, "L")), np.uint8) for im in images]
    arr = np.stack(out)
    arr = arr[:, None] if arr.ndim == 3 else arr.transpose(0, 3, 1, 2)
    return torch.from_numpy(pre.normalize(arr))


def batched(net, x: torch.Tensor, batch: int, fn=None) -> torch.Tensor:
    fn = fn or net
    with torch.inference_mode():
        return torch.cat([fn(x[i:i + batch]) for i in range(0, len(x), batch)])


def probe(name: str, x: torch.Tensor, y: np.ndarray, batch: int, ridge: float = 1e-2):
    """Random conv weights, BN calibrated on x, fc = ridge regression onto one-hot labels."""
    torch.manual_seed(0)
    net = create_model(name, num_classes=10)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batches
    net.train()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            net(x[i:i + batch])
    net.eval()
    f = batched(net, x, batch, lambda t: net.forward_head(net.forward_features(t), True))
    f = torch.cat([f, torch.ones(len(f), 1)], 1).double()
    t = torch.nn.functional.one_hot(torch.from_numpy(y).long(), 10).double()
    w = torch.linalg.solve(f.T @ f + ridge * len(f) * torch.eye(f.shape[1], dtype=f.dtype),
                           f.T @ t)
    net.fc.weight.data = w[:-1].T.float().contiguous()
    net.fc.bias.data = w[-1].float().contiguous()
    return net


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet20")
    ap.add_argument("--checkpoint", help="a trained model file instead of the probe")
    ap.add_argument("--size", type=int, default=32, help="input size of the probe")
    ap.add_argument("--train", type=int, default=2000, help="probe calibration images")
    ap.add_argument("--test", type=int, default=2000, help="test images compared")
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", help="write the results here as JSON")
    args = ap.parse_args()
    if args.test % args.batch:
        raise SystemExit("--test must be a multiple of --batch (compiled graphs are static)")
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    t0 = time.time()
    test_x, test_y = fashion_mnist("test", args.test)
    if args.checkpoint:
        net, meta = load_model(args.checkpoint)
        pre = Preprocessing.from_meta(meta)
        name, kind = meta["model"], f"trained checkpoint {args.checkpoint}"
    else:
        pre = Preprocessing(3, args.size, args.size, (0.2860,) * 3, (0.3530,) * 3)
        train_x, train_y = fashion_mnist("train", args.train)
        net = probe(args.model, inputs(train_x, pre), train_y, args.batch)
        name, kind = args.model, f"probe (BN + ridge fc on {args.train} train images)"
    x = inputs(test_x, pre)
    ref = batched(net, x, args.batch)
    top2 = ref.topk(2, dim=1).values
    margin = float((top2[:, 0] - top2[:, 1]).min())
    rows = [{"label": "eager fp32 (reference)", "top1_agreement": 1.0, "max_abs_diff": 0.0,
             "accuracy": float((ref.argmax(1).numpy() == test_y).mean())}]
    for v in MATRIX:
        t = time.time()
        run = prepare(net, v, [tuple(x[:args.batch].shape)], args.threads)
        out = batched(net, x, args.batch, run)
        diff = float((out - ref).abs().max())
        rows.append({"label": v.label, "top1_agreement": float((out.argmax(1) == ref.argmax(1))
                                                               .float().mean()),
                     "accuracy": float((out.argmax(1).numpy() == test_y).mean()),
                     "max_abs_diff": diff, "exact_by_margin": 2 * diff < margin,
                     "seconds": round(time.time() - t, 1)})
        print(rows[-1], flush=True)
    result = {"model": name, "kind": kind, "input_size": [pre.channels, pre.height, pre.width],
              "test_images": args.test, "logit_scale": float(ref.abs().max()),
              "min_top1_margin": margin, "variants": rows, "threads": args.threads,
              "seconds": round(time.time() - t0, 1),
              "machine": {**machine(), "load_average_before": list(load_before)},
              "versions": versions(), "date": time.strftime("%Y-%m-%d %H:%M %Z")}
    print(json.dumps(result, indent=2))
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
