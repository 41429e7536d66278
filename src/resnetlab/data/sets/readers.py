"""Readers for the official file formats: IDX (MNIST, Fashion-MNIST) and CIFAR binary/python.

Every reader checks sizes exactly and raises ValueError naming the file when it is not what
the format says. CIFAR python pickles go through a restricted unpickler: no code runs, and
arrays are rebuilt only from the bytes the pickle carries. Memory stays bounded by what a file
holds or its header says it must hold (guards.py), whatever it claims.
"""

from __future__ import annotations

import codecs
import io
import math
import os
import pickle
from pathlib import Path

import numpy as np

from resnetlab.data.sets import guards

# IDX type byte -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/).
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"
CIFAR_SHAPE = (3, 32, 32)
CIFAR_PIXELS = 3 * 32 * 32


def read_bytes(path: str | Path, limit: int | None = None, what: str = "") -> bytes:
    """File contents, transparently gunzipped when the file starts with the gzip magic.

    With a limit, a file that holds (or inflates to) more than `limit` bytes is refused by
    name, and no more than that is ever read; `what` says where the limit comes from.
    """
    return guards.read_limited(path, limit, what)


def parse_idx(data: bytes, what: str = "IDX data") -> np.ndarray:
    """Decode IDX bytes: 2 zero bytes, a type byte, ndim, ndim big-endian uint32 dims, data."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{what}: not an IDX file (bad magic {data[:4].hex()})")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"{what}: unknown IDX element type 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{what}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    dtype = np.dtype(IDX_DTYPES[code])
    expected = header + math.prod(shape) * dtype.itemsize  # exact: no int64 overflow
    if len(data) != expected:
        raise ValueError(
            f"{what}: IDX size mismatch: header says shape {shape} ({expected} bytes), "
            f"file has {len(data)} bytes; the file is truncated or corrupt"
        )
    arr = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (gzipped or not) as a numpy array in native byte order.

    The header is read first: no more than the bytes it declares are ever inflated.
    """
    head = guards.read_head(path, 4 + 4 * 255)
    expected = guards.idx_size(head, IDX_DTYPES)
    if expected is None:  # not an IDX header: parse_idx says what is wrong
        return parse_idx(head, str(path))
    return parse_idx(read_bytes(path, expected, "its IDX header declares"), str(path))


def read_mnist_pair(images_path: str | Path, labels_path: str | Path):
    """(uint8 N×1×28×28 images, int64 N labels) from a pair of MNIST-style IDX files."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{images_path}: expected uint8 N×H×W images, got {images.dtype} "
                         f"{images.shape}")
    if not images.size:
        raise ValueError(f"{images_path}: holds 0 images (header shape {images.shape}); the "
                         "file is truncated or corrupt: delete it and fetch it again")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{labels_path}: expected {len(images)} labels to match {images_path}, "
                         f"got shape {labels.shape}")
    return images[:, None].copy(), guards.integer_labels(labels, labels_path)


def read_cifar_binary(path: str | Path, label_bytes: int = 1, label_index: int = -1):
    """(uint8 N×3×32×32, int64 N) from a CIFAR binary batch: records of labels + 3072 bytes.

    CIFAR-10 records hold 1 label byte; CIFAR-100 hold 2 (coarse, fine): label_index picks one.
    """
    path = Path(path)
    record = label_bytes + CIFAR_PIXELS
    size = os.stat(path).st_size
    if size > guards.CIFAR_MAX_IMAGES * record:
        raise ValueError(f"{path}: {size:,} bytes, more than the {guards.CIFAR_MAX_IMAGES:,} "
                         "records of the largest official CIFAR batch; the file is not a CIFAR "
                         "binary batch")
    raw = np.fromfile(path, np.uint8)
    if raw.size == 0 or raw.size % record:
        raise ValueError(
            f"{path}: {raw.size} bytes is not a whole number of {record}-byte CIFAR records; "
            "the file is truncated or not a CIFAR binary batch"
        )
    rows = raw.reshape(-1, record)
    labels = rows[:, label_index if label_index >= 0 else label_bytes - 1].astype(np.int64)
    return rows[:, label_bytes:].reshape(-1, *CIFAR_SHAPE).copy(), labels


def read_label_names(path: str | Path) -> list[str]:
    """Class names from a CIFAR binary .txt (one per line, blank lines ignored)."""
    text = read_bytes(path, 1 << 20, "a list of class names holds").decode("utf-8", "replace")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _latin1_encode(obj, encoding="latin1", errors="strict"):
    """The only codec call allowed: how protocol-2 pickles store bytes (e.g. ndarray data)."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {encoding!r}")
    return codecs.encode(obj, "latin1", errors)


def _allowed_globals() -> dict[tuple[str, str], object]:
    allowed = {
        # Only _reconstruct's subtype argument: calling it (ndarray(shape, dtype)) is refused.
        ("numpy", "ndarray"): guards.NDARRAY,
        ("numpy", "dtype"): guards.make_dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = guards.reconstruct
        allowed[(mod, "scalar")] = guards.make_scalar
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, tuples, bytes, str, numbers and numpy arrays, nothing else.

    Built-in containers and scalars need no global; numpy arrays need only the reconstruct
    helpers listed in _allowed_globals. Any other global (os.system, builtins.eval, ...) is
    refused before it is looked up, so its code never runs. Arrays come only from
    _reconstruct(ndarray, (0,)) + a state whose bytes match its shape (guards.array_state).
    """

    def find_class(self, module: str, name: str):
        allowed = _allowed_globals()
        if (module, name) in allowed:
            return allowed[(module, name)]
        raise pickle.UnpicklingError(
            f"refused to load global {module}.{name}: CIFAR pickles hold only dicts, lists, "
            "bytes, strings, numbers and numpy arrays"
        )


def safe_unpickle(path: str | Path) -> object:
    """Load a pickle with RestrictedUnpickler; ValueError naming the file when it is refused.

    At most guards.CIFAR_PICKLE_LIMIT bytes are read or inflated, and the opcodes are checked
    (guards.check_pickle) before the unpickler allocates anything they claim.
    """
    path = Path(path)
    data = read_bytes(path, guards.CIFAR_PICKLE_LIMIT, "the largest official CIFAR batch holds")
    try:
        guards.check_pickle(data)
        return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError,
            OverflowError) as e:
        raise ValueError(f"{path}: not a valid CIFAR python pickle: {e}; delete it and fetch "
                         "the official file again") from e


def _key(d: dict, *names: str):
    for n in names:
        for k in (n, n.encode()):
            if k in d:
                return d[k]
    raise KeyError(names[0])


def read_cifar_python(path: str | Path, label_key: str = "labels"):
    """(uint8 N×3×32×32, int64 N) from a CIFAR python batch (a dict with data and labels)."""
    d = safe_unpickle(path)
    if not isinstance(d, dict):
        raise ValueError(f"{path}: expected a dict in a CIFAR python batch, got {type(d).__name__}")
    try:
        data, labels = _key(d, "data"), _key(d, label_key)
    except KeyError as e:
        raise ValueError(f"{path}: CIFAR python batch lacks the key {e}") from e
    try:
        data = np.asarray(data)
    except (ValueError, TypeError, OverflowError) as e:
        raise ValueError(f"{path}: expected uint8 N×3072 data ({e})") from e
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != CIFAR_PIXELS:
        raise ValueError(f"{path}: expected uint8 N×3072 data, got {data.dtype} {data.shape}")
    if not len(data):
        raise ValueError(f"{path}: holds 0 images; the file is truncated or corrupt: delete it "
                         "and fetch it again")
    labels = guards.integer_labels(labels, path)
    if labels.shape != (len(data),):
        raise ValueError(f"{path}: {len(labels)} labels for {len(data)} images")
    return data.reshape(-1, *CIFAR_SHAPE).copy(), labels


def read_cifar_python_names(path: str | Path, key: str = "label_names") -> list[str]:
    """Class names from a CIFAR python meta pickle (batches.meta or meta)."""
    d = safe_unpickle(path)
    try:
        names = _key(d, key) if isinstance(d, dict) else None
    except KeyError:
        names = None
    if not isinstance(names, list):
        raise ValueError(f"{path}: CIFAR meta file lacks a list under {key!r}")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]
