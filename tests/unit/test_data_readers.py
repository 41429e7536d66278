"""Readers of the official formats, on tiny files written byte by byte."""

import gzip
import os
import pickle

import numpy as np
import pytest
from datafiles import cifar_records, idx_bytes, tiny_cifar

from resnetlab.data.sets import readers


def test_idx_header_and_bytes_exact(tmp_path):
    raw = bytes([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(12))
    (tmp_path / "a-idx3-ubyte").write_bytes(raw)
    arr = readers.read_idx(tmp_path / "a-idx3-ubyte")
    assert arr.dtype == np.uint8 and arr.shape == (2, 2, 3)
    assert arr.tobytes() == bytes(range(12))
    assert arr[1, 0, 2] == 8


@pytest.mark.parametrize("gz", [True, False])
def test_idx_gz_or_not_and_big_endian_types(tmp_path, gz):
    ints = np.array([[1, -2], [70000, 3]], dtype=np.int32)
    data = idx_bytes(ints)
    assert data[:4] == b"\x00\x00\x0c\x02" and data[8:12] == b"\x00\x00\x00\x02"
    p = tmp_path / "i.idx"
    p.write_bytes(gzip.compress(data) if gz else data)
    np.testing.assert_array_equal(readers.read_idx(p), ints)


def test_idx_errors_name_the_file(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x05" + bytes(5))
    with pytest.raises(ValueError, match="bad magic"):
        readers.read_idx(p)
    p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5]) + bytes(4))  # one byte short
    with pytest.raises(ValueError, match=f"{p}.*truncated"):
        readers.read_idx(p)
    p.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 5]) + bytes(5))[:-6])
    with pytest.raises(ValueError, match="corrupt gzip"):
        readers.read_idx(p)


def test_mnist_pair_checks_counts(tmp_path):
    (tmp_path / "x").write_bytes(idx_bytes(np.zeros((3, 2, 2), np.uint8)))
    (tmp_path / "y").write_bytes(idx_bytes(np.zeros(2, np.uint8)))
    with pytest.raises(ValueError, match="expected 3 labels"):
        readers.read_mnist_pair(tmp_path / "x", tmp_path / "y")


def test_cifar_binary_record_layout(tmp_path):
    x = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3, 32, 32)
    (tmp_path / "b.bin").write_bytes(cifar_records(x, np.array([7, 3])))
    got_x, got_y = readers.read_cifar_binary(tmp_path / "b.bin")
    assert got_y.tolist() == [7, 3] and got_y.dtype == np.int64
    np.testing.assert_array_equal(got_x, x)
    # byte 1 of a record is the red pixel (0, 0); byte 1 + 1024 the green one
    raw = (tmp_path / "b.bin").read_bytes()
    assert raw[0] == 7 and raw[1] == x[0, 0, 0, 0] and raw[1 + 1024] == x[0, 1, 0, 0]


def test_cifar100_binary_takes_fine_label(tmp_path):
    x = np.zeros((2, 3, 32, 32), np.uint8)
    (tmp_path / "t.bin").write_bytes(cifar_records(x, np.array([1, 2]), np.array([42, 99])))
    assert readers.read_cifar_binary(tmp_path / "t.bin", label_bytes=2)[1].tolist() == [42, 99]
    with pytest.raises(ValueError, match="6148 bytes is not a whole number of 3073-byte"):
        readers.read_cifar_binary(tmp_path / "t.bin", label_bytes=1)


@pytest.mark.parametrize("hundred", [False, True])
def test_cifar_python_batches(tmp_path, hundred):
    splits, names = tiny_cifar(tmp_path, "py", hundred=hundred, n=5)
    d = tmp_path / ("cifar-100-python" if hundred else "cifar-10-batches-py")
    first = "train" if hundred else "data_batch_1"
    x, y = readers.read_cifar_python(d / first, "fine_labels" if hundred else "labels")
    np.testing.assert_array_equal(x, splits["train"][0][:5])
    np.testing.assert_array_equal(y, splits["train"][1][:5])
    meta, key = ("meta", "fine_label_names") if hundred else ("batches.meta", "label_names")
    assert readers.read_cifar_python_names(d / meta, key) == names


def test_python2_style_pickle_is_read(tmp_path):
    """The official files were pickled by Python 2: str keys, no _codecs calls."""
    arr = np.arange(3072 * 2, dtype=np.uint8).reshape(2, 3072) % 251
    obj = {"data": arr, "labels": [4, 2]}
    (tmp_path / "b").write_bytes(pickle.dumps(obj, protocol=4))
    x, y = readers.read_cifar_python(tmp_path / "b")
    assert y.tolist() == [4, 2] and x.reshape(2, -1).tobytes() == arr.tobytes()


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


class _EvilOpen:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.mark.parametrize("evil", [_Evil, _EvilOpen])
def test_malicious_pickle_refused_and_never_runs(tmp_path, evil):
    target = tmp_path / "pwned"
    payload = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [evil(target)]}
    p = tmp_path / "data_batch_1"
    p.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(ValueError, match="refused to load global"):
        readers.read_cifar_python(p)
    assert not target.exists()


def test_codecs_only_latin1(tmp_path):
    class Rot:
        def __reduce__(self):
            import _codecs

            return (_codecs.encode, ("abc", "rot13"))

    p = tmp_path / "m"
    p.write_bytes(pickle.dumps({"label_names": [Rot()]}, protocol=2))
    with pytest.raises(ValueError, match="rot13"):
        readers.read_cifar_python_names(p)
