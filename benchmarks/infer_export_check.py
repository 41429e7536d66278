"""Export ResNet-20 (three formats) and ResNet-50 v1/v1.5 (ONNX), with and without BN folding,
and print each verification's max abs logit difference and wall time (benchmarks/RESULTS.md).

    .venv/bin/python benchmarks/infer_export_check.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))
from infer_models import model_file  # noqa: E402  (the tests' calibrated model files)

from resnetlab.inference.export import export_model  # noqa: E402

FORMATS = (("onnx", ".onnx"), ("torchscript", ".pt"), ("exported-program", ".pt2"))
CASES = [("resnet20", 32, {}, f) for f in FORMATS] + [
    ("resnet50", 64, {"stride_in_1x1": True}, FORMATS[0]),
    ("resnet50", 64, {"stride_in_1x1": False}, FORMATS[0]),
    ("resnet50", 224, {"stride_in_1x1": False}, FORMATS[0]),
]


def main() -> None:
    torch.set_num_threads(1)
    out = Path(tempfile.mkdtemp(prefix="resnetlab-export-"))
    for name, size, overrides, (fmt, suffix) in CASES:
        path = model_file(out, name=name, size=size, channels=3,
                          classes=[str(i) for i in range(10)], **overrides)
        for fold in (False, True):
            t = time.perf_counter()
            r = export_model(path, out / f"model{suffix}", fmt, fold_bn=fold)
            scale = max(c.logit_scale for c in r.checks)
            print(f"{name} {size}px {overrides} {fmt}{' --fold-bn' if fold else ''}: max abs "
                  f"diff {r.max_abs_diff:.2e} (logits up to {scale:.2f}), "
                  f"{time.perf_counter() - t:.1f}s", flush=True)


if __name__ == "__main__":
    main()
