"""Hostile data set files (issue 13, items 7 and 8, and "Labels and IDX"): small files that
claim to be huge, gzip bombs, overflowing headers and impossible labels. Each one must end in
one ValueError that names the file, with memory bounded by what the file really holds.

Every memory bomb runs in a child process capped at 1.5 GiB of address space
(hostile_inputs.run_reader_capped): before the fixes these children died of MemoryError or
accepted the claim, after them they stop at once with a small peak RSS.
"""

import io
import pickle
import struct
import warnings

import numpy as np
import pytest
from hostile_inputs import baseline_rss_mb, gzip_bomb, idx_header, run_reader_capped

from resnetlab.cli import main as cli_main

try:
    from numpy._core import multiarray
except ImportError:  # numpy < 2
    from numpy.core import multiarray


@pytest.fixture(scope="module")
def base_rss():
    return baseline_rss_mb()


class _Reduce:
    """Pickles as callable(*args) [+ BUILD state]: how a hostile file calls an allowed global."""

    def __init__(self, fn, args, state=None):
        self.fn, self.args, self.state = fn, args, state

    def __reduce__(self):
        return (self.fn, self.args) if self.state is None else (self.fn, self.args, self.state)


def cifar_pickle(data, labels) -> bytes:
    return pickle.dumps({b"data": data, b"labels": labels, b"batch_label": b"hostile"},
                        protocol=2)


HOSTILE_PICKLES = {
    # The 98-byte file of the issue: the allowed numpy.ndarray(shape, dtype) constructor.
    "ndarray-constructor": cifar_pickle(_Reduce(np.ndarray, ((200000, 3072), "u1")),
                                        _Reduce(np.ndarray, ((200000,), "i8"))),
    "ndarray-constructor-1e13": cifar_pickle(_Reduce(np.ndarray, ((10**13,), "u1")), []),
    # _reconstruct with a declared shape (numpy's own pickles always pass (0,)).
    "reconstruct-declared-shape": cifar_pickle(
        _Reduce(multiarray._reconstruct, (np.ndarray, (10**13,), b"b")), []),
    # The reconstruct path, with a state of object dtype: numpy allocates before it checks.
    "object-array-state": cifar_pickle(
        _Reduce(multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                (1, (10**9,), np.dtype("O"), False, [])), []),
    # A memo index of 2^28: the C unpickler grows (and zeroes) its memo table to fit it.
    "memo-index": b"\x80\x02}r\xff\xff\xff\x0f.",
    # A counted bytes8 of 2^40 bytes that the file does not hold.
    "bytes8-length": b"\x80\x04\x8e" + (2**40).to_bytes(8, "little") + b"ab.",
}


@pytest.mark.parametrize("name", HOSTILE_PICKLES)
def test_cifar_pickle_claims_are_refused_with_bounded_memory(tmp_path, base_rss, name):
    path = tmp_path / "data_batch_1"
    path.write_bytes(HOSTILE_PICKLES[name])
    r = run_reader_capped("read_cifar_python", path)
    assert not r["ok"] and r["type"] == "ValueError", r
    assert str(path) in r["error"]
    assert r["maxrss_mb"] < base_rss + 64, r


def test_cifar_pickle_with_short_bytes_names_the_claim(tmp_path):
    from resnetlab.data.sets import readers

    x = _Reduce(multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                (1, (200000, 3072), np.dtype("u1"), False, b"\0" * 10))
    path = tmp_path / "data_batch_1"
    path.write_bytes(cifar_pickle(x, []))
    with pytest.raises(ValueError, match=r"data_batch_1.*shape \(200000, 3072\)"):
        readers.read_cifar_python(path)


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_honest_cifar_pickles_still_load(tmp_path, protocol):
    from resnetlab.data.sets import readers

    x = np.arange(5 * 3072, dtype=np.uint8).reshape(5, 3072)
    path = tmp_path / "b"
    path.write_bytes(pickle.dumps({b"data": x, b"labels": [0, 1, 2, 3, 4],
                                   b"filenames": [b"a.png"] * 5}, protocol=protocol))
    data, labels = readers.read_cifar_python(path)
    assert data.shape == (5, 3, 32, 32) and data.reshape(5, -1).tolist() == x.tolist()
    assert labels.tolist() == [0, 1, 2, 3, 4]


def test_gzip_bomb_as_idx_stops_at_the_header_size(tmp_path, base_rss):
    path = tmp_path / "train-images-idx3-ubyte.gz"  # header: 10 images of 28x28 (7,856 bytes)
    path.write_bytes(gzip_bomb(idx_header(0x08, (10, 28, 28)), mib=1024))  # 1 GiB inflated
    assert path.stat().st_size < 2 << 20
    r = run_reader_capped("read_idx", path)
    assert not r["ok"] and r["type"] == "ValueError", r
    assert str(path) in r["error"] and "7856" in r["error"].replace(",", "")
    assert r["maxrss_mb"] < base_rss + 64, r


def test_gzip_bomb_as_cifar_pickle_stops_at_the_batch_size(tmp_path, base_rss):
    path = tmp_path / "data_batch_1"
    path.write_bytes(gzip_bomb(b"\x80\x02", mib=1024))
    r = run_reader_capped("read_cifar_python", path)
    assert not r["ok"] and r["type"] == "ValueError", r
    assert str(path) in r["error"] and "gzip" in r["error"]
    assert r["maxrss_mb"] < base_rss + 400, r  # the largest official batch is 150 MiB


@pytest.mark.parametrize("dims", [(2**16,) * 4, (2**31, 2**31, 4), (2**32 - 1,) * 3])
def test_idx_dimensions_that_overflow_name_the_file(tmp_path, dims):
    from resnetlab.data.sets import readers

    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_header(0x08, dims))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*header says shape"):
        readers.read_idx(path)


# -- through `resnetlab data info`: one message naming the file, exit 2, no traceback ------

def write_mnist(folder, n=4, labels=None, label_code=0x08, size=28):
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.arange(n) % 10 if labels is None else np.asarray(labels)
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[label_code]
    for prefix in ("train", "t10k"):
        img = np.zeros((n, size, size), np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
            idx_header(0x08, img.shape) + img.tobytes())
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
            idx_header(label_code, (n,)) + labels.astype(dtype).tobytes())
    return folder


def data_info(capsys, name, root):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning (mean of nothing) is a failure too
        rc = cli_main(["data", "info", name, "--root", str(root), "--offline"])
    out = capsys.readouterr()
    return rc, out.out + out.err


@pytest.mark.parametrize("labels,code,what", [
    ([0, 1, 2, 12], 0x08, "label 12"),
    ([0, 1, -3, 2], 0x0C, "label -3"),
    ([0.5, 1, 2, 3], 0x0D, "integer"),
])
def test_idx_labels_out_of_range_name_the_file(tmp_path, capsys, monkeypatch, labels, code,
                                               what):
    monkeypatch.delenv("RESNETLAB_DATA", raising=False)
    write_mnist(tmp_path / "mnist", labels=labels, label_code=code)
    rc, out = data_info(capsys, "mnist", tmp_path)
    assert rc == 2 and "Traceback" not in out
    assert "train-labels-idx1-ubyte" in out and what in out, out


def test_idx_with_zero_images_names_the_file(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RESNETLAB_DATA", raising=False)
    write_mnist(tmp_path / "mnist", n=0)
    rc, out = data_info(capsys, "mnist", tmp_path)
    assert rc == 2 and "train-images-idx3-ubyte" in out and "0 images" in out, out


@pytest.mark.parametrize("label,what", [(2**70, "2^63"), (-1, "label -1"), (10, "label 10"),
                                        ("cat", "integer"), (2.0, "integer")])
def test_cifar_python_labels_name_the_file(tmp_path, capsys, monkeypatch, label, what):
    monkeypatch.delenv("RESNETLAB_DATA", raising=False)
    d = tmp_path / "cifar10" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    x = np.zeros((2, 3072), np.uint8)
    for f in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [1, label] if f == "data_batch_3" else [0, 1]
        (d / f).write_bytes(pickle.dumps({b"data": x, b"labels": labels}, protocol=2))
    (d / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"c%d" % i
                                                                   for i in range(10)]}))
    rc, out = data_info(capsys, "cifar10", tmp_path)
    assert rc == 2 and "Traceback" not in out
    assert "data_batch_3" in out and what in out, out


def test_cifar_binary_label_out_of_range_names_the_file(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RESNETLAB_DATA", raising=False)
    d = tmp_path / "cifar10" / "cifar-10-batches-bin"
    d.mkdir(parents=True)
    for f in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        label = 200 if f == "test_batch.bin" else 3
        (d / f).write_bytes(struct.pack("B", label) + bytes(3072))
    (d / "batches.meta.txt").write_text("\n".join(f"c{i}" for i in range(10)))
    rc, out = data_info(capsys, "cifar10", tmp_path)
    assert rc == 2 and "test_batch.bin" in out and "label 200" in out, out


@pytest.mark.parametrize("state,what", [
    ((1, (2,), np.dtype("u1"), False, [1, 2]), "data of type list"),
    ((1, (2, 3), np.dtype("u1"), False, b"\0" * 5), "carries 5 bytes"),
    ((1, (-1,), np.dtype("u1"), False, b""), "shape"),
    ((1, (1,), np.dtype([("a", "u1")]), False, b"\0"), "dtype"),
])
def test_array_states_are_checked_before_numpy_sees_them(state, what):
    from resnetlab.data.sets import guards

    with pytest.raises(pickle.UnpicklingError, match=what):
        guards.array_state(state)


def test_sparse_class_name_file_is_refused_before_it_is_read(tmp_path, base_rss):
    path = tmp_path / "batches.meta.txt"
    with open(path, "wb") as f:  # 1 GiB on paper, a few bytes on disk
        f.write(b"airplane\n")
        f.truncate(1 << 30)
    r = run_reader_capped("read_label_names", path)
    assert not r["ok"] and r["type"] == "ValueError" and str(path) in r["error"], r
    assert r["maxrss_mb"] < base_rss + 64, r


def test_sparse_cifar_binary_batch_is_refused_before_it_is_read(tmp_path, base_rss):
    path = tmp_path / "data_batch_1.bin"
    with open(path, "wb") as f:
        f.truncate(3073 * 600_000)  # 1.7 GiB: twelve times the largest official batch
    r = run_reader_capped("read_cifar_binary", path)
    assert not r["ok"] and r["type"] == "ValueError" and str(path) in r["error"], r
    assert r["maxrss_mb"] < base_rss + 64, r


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_honest_numpy_values_round_trip_through_the_guards(protocol):
    from resnetlab.data.sets import readers

    value = {"be": np.arange(6, dtype=">f4").reshape(2, 3), "f": np.asfortranarray(
        np.arange(6, dtype="<i2").reshape(2, 3)), "s": np.float32(2.5), "i": np.int64(-7),
        "u": np.array(["ab", "c"]), "b": np.array([b"x", b"yz"])}
    data = pickle.dumps(value, protocol=protocol)
    out = readers.RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    plain = pickle.loads(data)  # what numpy itself rebuilds (e.g. '>f4' data in native order)
    for k, v in value.items():
        assert np.asarray(out[k]).dtype == np.asarray(plain[k]).dtype, k
        np.testing.assert_array_equal(out[k], v)
    assert out["f"].flags["F_CONTIGUOUS"] and np.dtype("f4").byteorder == "="
