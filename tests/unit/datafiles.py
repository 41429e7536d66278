"""Test helpers: tiny data set files written byte by byte in the official formats."""

from __future__ import annotations

import dataclasses
import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from resnetlab.data.sets import sources


def idx_bytes(arr: np.ndarray) -> bytes:
    """IDX encoding, written from the format description (not with the reader's code)."""
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}
    head = bytes([0, 0, code[arr.dtype], arr.ndim]) + b"".join(struct.pack(">I", d)
                                                               for d in arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool = True) -> Path:
    data = idx_bytes(arr)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def tiny_mnist(folder: Path, n_train=40, n_test=20, gz=True, seed=0, classes=10, size=28):
    """Writes the four MNIST IDX files; returns (train_x, train_y, test_x, test_y)."""
    rng = np.random.default_rng(seed)
    out = []
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        y = (np.arange(n) % classes).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", x, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", y, gz)
        out += [x, y]
    return out


def cifar_records(x: np.ndarray, *labels: np.ndarray) -> bytes:
    """CIFAR binary records: the label byte(s) then 3072 pixel bytes (R, G, B planes)."""
    rows = [bytes(int(lab[i]) for lab in labels) + x[i].tobytes() for i in range(len(x))]
    return b"".join(rows)


def tiny_cifar(folder: Path, fmt: str, hundred: bool = False, n=12, seed=0):
    """Writes an extracted CIFAR-10/100 folder (binary or python version); returns arrays."""
    rng = np.random.default_rng(seed)
    k = 100 if hundred else 10
    names = [f"class{i}" for i in range(k)]
    splits = {}
    if hundred:
        files = {"train": ["train"], "test": ["test"]}
    else:
        files = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    sub = {("bin", False): "cifar-10-batches-bin", ("py", False): "cifar-10-batches-py",
           ("bin", True): "cifar-100-binary", ("py", True): "cifar-100-python"}[fmt, hundred]
    d = folder / sub
    d.mkdir(parents=True, exist_ok=True)
    for split, fnames in files.items():
        xs, ys = [], []
        for f in fnames:
            x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
            y = rng.integers(0, k, n).astype(np.uint8)
            coarse = (y // 5).astype(np.uint8)
            if fmt == "bin":
                recs = cifar_records(x, coarse, y) if hundred else cifar_records(x, y)
                (d / f"{f}.bin").write_bytes(recs)
            else:
                key = "fine_labels" if hundred else "labels"
                obj = {b"data": x.reshape(n, -1), key.encode(): [int(v) for v in y],
                       b"batch_label": b"training batch"}
                (d / f).write_bytes(pickle.dumps(obj, protocol=2))
            xs.append(x)
            ys.append(y.astype(np.int64))
        splits[split] = (np.concatenate(xs), np.concatenate(ys))
    if fmt == "bin":
        meta = "fine_label_names.txt" if hundred else "batches.meta.txt"
        (d / meta).write_text("\n".join(names) + "\n\n")
    else:
        key = b"fine_label_names" if hundred else b"label_names"
        meta = "meta" if hundred else "batches.meta"
        (d / meta).write_bytes(pickle.dumps({key: [s.encode() for s in names]}, protocol=2))
    return splits, names


def isolate(monkeypatch, tmp_path: Path) -> Path:
    """No $RESNETLAB_DATA, a fresh user cache, no system folders: only what the test writes."""
    monkeypatch.delenv("RESNETLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    for name, src in list(sources.SOURCES.items()):
        monkeypatch.setitem(sources.SOURCES, name, dataclasses.replace(src, system_dirs=()))
    return tmp_path / "xdg-cache" / "resnetlab"


FORMATS = [("JPEG", ".jpg", "RGB"), ("PNG", ".png", "L"), ("WEBP", ".webp", "RGB"),
           ("PNG", ".PNG", "RGBA")]


def write_image(path, value, fmt="PNG", mode="RGB", size=(40, 36)):
    arr = np.full((size[1], size[0], len(mode)), value, np.uint8).squeeze()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode).save(path, fmt)


def make_folder(root, per_class=4, classes=("cat", "dog", "eel")):
    """Class c's images have pixel value 60 * c + i; one file per format, plus clutter."""
    for c, name in enumerate(classes):
        for i in range(per_class):
            fmt, ext, mode = FORMATS[i % len(FORMATS)]
            sub = "nested/" if i == 3 else ""
            write_image(root / name / f"{sub}img{i}{ext}", 60 * c + i, fmt,
                        "RGB" if fmt == "JPEG" else mode)
        (root / name / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    return root
