"""What the official-format readers (readers.py) check before they trust a file's claims.

A hostile file is small and claims to be huge: a gzip stream that inflates without end, a
pickle that asks numpy for an array of a declared shape, a memo index or a counted string
that the file does not hold, labels that overflow. Every check here bounds memory by what the
file really carries (or what its header says it must hold) and raises ValueError or
pickle.UnpicklingError before anything is allocated; the readers add the file's name.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import pickle
import pickletools
import zlib
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20

# The largest official CIFAR python batch is CIFAR-100's train (50,000 images of 3,072 bytes,
# two label lists and the file names): no honest batch inflates past this.
CIFAR_MAX_IMAGES = 50_000
CIFAR_PICKLE_LIMIT = CIFAR_MAX_IMAGES * (3072 + 256) + (1 << 20)
# Array element kinds a data file may hold: bool, integers, floats, complex, bytes, str.
ARRAY_KINDS = "biufcSU"


def read_limited(path: str | Path, limit: int | None, what: str = "") -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic; ValueError naming the
    file when it holds (or inflates to) more than `limit` bytes, read incrementally so that at
    most limit + 1 MiB is ever held. `what` says where the limit comes from."""
    path = Path(path)
    what = what or "this file can hold"
    with open(path, "rb") as f:
        if f.read(2) == GZIP_MAGIC:
            f.seek(0)
            return _gunzip(f, limit, path, what)
        size = os.fstat(f.fileno()).st_size
        if limit is not None and size > limit:
            raise ValueError(f"{path}: {size:,} bytes, more than the {limit:,} bytes {what}; "
                             "the file is corrupt or not what its name says: delete it and "
                             "fetch it again")
        f.seek(0)
        return f.read()


def _gunzip(f, limit: int | None, path: Path, what: str) -> bytes:
    """Inflate every gzip member of f (as gzip.decompress does), at most `limit` bytes."""
    out, data = bytearray(), b""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        while True:
            if not data:
                data = f.read(CHUNK)
                if not data:
                    break
            if d.eof:  # the next member, unless it is the zero padding gzip allows
                if data[0] == 0 and not data.strip(b"\0"):
                    data = b""
                    continue
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            room = CHUNK if limit is None else min(CHUNK, limit + 1 - len(out))
            out += d.decompress(data, room)
            if limit is not None and len(out) > limit:
                raise ValueError(
                    f"{path}: the gzip stream inflates to more than the {limit:,} bytes "
                    f"{what} (a corrupt file or a decompression bomb); delete it and fetch "
                    "it again")
            data = d.unused_data if d.eof else d.unconsumed_tail
        if not d.eof:
            out += d.decompress(b"", CHUNK)  # what the last input left pending, if any
        if not d.eof:
            raise EOFError("the stream ends before its end-of-stream marker")
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{path}: corrupt gzip file ({e}); delete it and fetch it again") from e
    return bytes(out)


def read_head(path: str | Path, n: int) -> bytes:
    """The first n bytes of the file, gunzipped when it is gzipped (never more is inflated)."""
    path = Path(path)
    with open(path, "rb") as f:
        if f.read(2) != GZIP_MAGIC:
            f.seek(0)
            return f.read(n)
        f.seek(0)
        try:
            with gzip.GzipFile(fileobj=f) as g:
                return g.read(n)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: corrupt gzip file ({e}); delete it and fetch it "
                             "again") from e


def idx_size(head: bytes, dtypes: dict[int, str]) -> int | None:
    """Bytes an IDX file must hold, from its header (exact integers: no overflow), or None
    when the header is not a valid IDX header (the parser then says what is wrong)."""
    if len(head) < 4 or head[0] or head[1] or head[2] not in dtypes:
        return None
    header = 4 + 4 * head[3]
    if len(head) < header:
        return None
    dims = [int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(head[3])]
    return header + math.prod(dims) * np.dtype(dtypes[head[2]]).itemsize


# -- pickles ------------------------------------------------------------------------------

_MEMO_OPS = {"PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"}


def check_pickle(data: bytes) -> None:
    """Walk the opcodes without building anything (pickletools): every counted string and
    bytes object must be present in the data, and memo indexes stay below the number of
    opcodes read so far (what every pickler writes), so the C unpickler never allocates for a
    length or a memo table that the file only claims."""
    n = 0
    try:
        for op, arg, pos in pickletools.genops(io.BytesIO(data)):
            n += 1
            if op.name in _MEMO_OPS and not 0 <= arg <= n:
                raise pickle.UnpicklingError(
                    f"{op.name} memo index {arg:,} at byte {pos} exceeds the {n:,} opcodes "
                    "before it (a pickle that claims a memo table it does not fill)")
    except ValueError as e:  # pickletools: truncated or unknown opcodes, missing bytes
        raise pickle.UnpicklingError(str(e)) from e


def _allowed_dtype(dt, where: str) -> np.dtype:
    """A fresh dtype rebuilt from its type string (no flags or fields a state could set),
    of an allowed kind; no object, structured or void dtypes."""
    if not isinstance(dt, np.dtype) or dt.kind not in ARRAY_KINDS or dt.fields is not None:
        raise pickle.UnpicklingError(f"refused {where} of dtype {dt!r}: data files hold "
                                     "numbers, bytes and strings only")
    return np.dtype(dt.str)


def make_dtype(obj, align=False, copy=False) -> np.dtype:
    """numpy.dtype(obj, align, copy) as pickles call it, for allowed kinds only. Always a
    copy: the pickle's BUILD then sets its byte order on this copy, never on numpy's shared
    built-in dtype; array_state rebuilds it from its type string before an array uses it."""
    if not isinstance(obj, str | bytes):
        raise pickle.UnpicklingError(f"refused numpy.dtype({obj!r}): only plain type codes")
    try:
        dt = np.dtype(obj.decode("latin1") if isinstance(obj, bytes) else obj, False, True)
    except TypeError as e:
        raise pickle.UnpicklingError(f"refused numpy.dtype({obj!r}): {e}") from e
    _allowed_dtype(dt, "numpy.dtype")
    return dt


class RefusedConstructor:
    """What numpy.ndarray resolves to: a marker that _reconstruct accepts as its subtype, and
    that refuses to be called (ndarray(shape, dtype) allocates from a declared shape)."""

    def __call__(self, *args, **kwargs):
        raise pickle.UnpicklingError(
            f"refused numpy.ndarray{args!r}: an array is rebuilt only from the bytes the "
            "pickle carries (numpy's _reconstruct + state), never from a declared shape")


NDARRAY = RefusedConstructor()


class PickledArray(np.ndarray):
    """The empty array _reconstruct returns; its __setstate__ (the pickle's BUILD) checks
    the state before numpy sees it: declared shape × item size == the bytes carried."""

    def __setstate__(self, state):
        super().__setstate__(array_state(state))


def reconstruct(subtype, shape, dtype=None) -> PickledArray:
    """numpy's _reconstruct(ndarray, (0,), b'b'), the first half of every pickled array;
    any other subtype or a non-empty shape (an allocation from a claim) is refused."""
    if subtype is not NDARRAY or not isinstance(shape, tuple | list) or list(shape) != [0]:
        raise pickle.UnpicklingError(
            f"refused _reconstruct with shape {shape!r}: numpy pickles start from an empty "
            "array and carry the data in its state")
    return np.ndarray.__new__(PickledArray, (0,), np.uint8)


def array_state(state) -> tuple:
    """An ndarray __setstate__ argument, checked: shape of non-negative ints, allowed dtype,
    and data bytes exactly as long as the shape says (nothing allocated from a claim)."""
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        raise pickle.UnpicklingError("refused an array state that is not numpy's")
    head, (shape, dt, fortran, raw) = state[:-4], state[-4:]
    if not isinstance(shape, tuple) or not all(type(d) is int and d >= 0 for d in shape):
        raise pickle.UnpicklingError(f"refused an array of shape {shape!r}")
    dt = _allowed_dtype(dt, "an array")
    if not isinstance(raw, bytes | str):
        raise pickle.UnpicklingError(f"refused array data of type {type(raw).__name__}")
    need = math.prod(shape) * dt.itemsize
    if need != len(raw):
        raise pickle.UnpicklingError(
            f"an array declares shape {shape} of {dt} ({need:,} bytes) but the pickle "
            f"carries {len(raw):,} bytes for it")
    return (*head, shape, dt, bool(fortran), raw)


def make_scalar(dtype, obj=None):
    """numpy's multiarray.scalar(dtype, bytes) for allowed dtypes, from exactly the bytes."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    dt = _allowed_dtype(dtype, "a numpy scalar")
    if not isinstance(obj, bytes | str) or len(obj) != dt.itemsize:
        raise pickle.UnpicklingError(f"refused a {dt} scalar from {type(obj).__name__} data")
    return multiarray.scalar(dt, obj)


# -- labels -------------------------------------------------------------------------------

def integer_labels(values, path) -> np.ndarray:
    """int64 labels, or ValueError naming the file: integers only, below 2^63."""
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError, OverflowError) as e:
        raise ValueError(f"{path}: labels are not a flat list of integers ({e})") from e
    if arr.dtype.kind == "O" and all(type(v) is int for v in arr.ravel().tolist()):
        big = next(v for v in arr.ravel().tolist() if not -2**63 <= v < 2**63)
        raise ValueError(f"{path}: label {big} does not fit in 64 bits (labels must lie below "
                         "2^63); the file is corrupt: delete it and fetch it again")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{path}: labels must be integers, got {arr.dtype} values; the file "
                         "is corrupt: delete it and fetch it again")
    if arr.dtype.kind == "u" and arr.size and arr.max() >= 2**63:
        raise ValueError(f"{path}: label {arr.max()} does not fit in 64 bits (labels must lie "
                         "below 2^63); the file is corrupt: delete it and fetch it again")
    return arr.astype(np.int64)


def check_label_range(labels: np.ndarray, num_classes: int, path) -> None:
    """ValueError naming the file when a label is not a class index (0..num_classes-1)."""
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        raise ValueError(
            f"{path}: label {labels[bad[0]]} (record {bad[0]}) lies outside 0..{num_classes - 1}"
            f" for {num_classes} classes ({bad.size:,} such labels); the file is corrupt or "
            "from another data set: delete it and fetch it again")
