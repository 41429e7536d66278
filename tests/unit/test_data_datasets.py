"""load_dataset: finding files in the search order, ImageSet, stats and splits."""

import numpy as np
import pytest
import torch
from datafiles import isolate, tiny_cifar, tiny_mnist

from resnetlab.data import (
    ImageSet,
    channel_stats,
    find,
    load_dataset,
    split_validation,
    stratified_subset,
)


@pytest.fixture
def cache(monkeypatch, tmp_path):
    return isolate(monkeypatch, tmp_path)


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_root(tmp_path, cache, gz):
    tx, ty, vx, vy = tiny_mnist(tmp_path / "r" / "mnist", gz=gz)
    ds = load_dataset("mnist", "train", root=tmp_path / "r", download=False)
    assert ds.images.dtype == torch.uint8 and ds.images.shape == (40, 1, 28, 28)
    assert ds.labels.dtype == torch.int64
    assert ds.images[:, 0].numpy().tobytes() == tx.tobytes()
    assert ds.labels.tolist() == ty.tolist()
    assert ds.classes == [str(i) for i in range(10)] and ds.split == "train"
    test = load_dataset("mnist", "test", root=tmp_path / "r", download=False)
    assert test.labels.tolist() == vy.tolist()
    assert test.mean == ds.mean and test.std == ds.std  # train statistics, whatever the split
    assert ds.mean[0] == pytest.approx(tx.mean() / 255)
    assert ds.std[0] == pytest.approx(tx.std() / 255)


def test_search_order_root_env_cache(tmp_path, cache, monkeypatch):
    tiny_mnist(cache / "fashion-mnist", seed=1)
    assert load_dataset("fashion-mnist", download=False).name == "fashion-mnist"
    assert find("fashion-mnist").folder == cache / "fashion-mnist"
    env = tmp_path / "env"
    tiny_mnist(env / "fashion-mnist", seed=2)
    monkeypatch.setenv("RESNETLAB_DATA", str(env))
    assert find("fashion-mnist").folder == env / "fashion-mnist"
    tiny_mnist(tmp_path / "root", seed=3)  # files directly in --root
    assert find("fashion-mnist", tmp_path / "root").folder == tmp_path / "root"
    # the bare cache folder is not searched for IDX files: MNIST and Fashion share names
    tiny_mnist(cache, seed=4)
    monkeypatch.delenv("RESNETLAB_DATA")
    assert find("mnist") is None


def test_aliases_and_unknown_name(cache):
    with pytest.raises(ValueError, match="unknown data set 'imagenet'"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match="split must be"):
        load_dataset("mnist", "val")


def test_missing_offline_error_says_what_where_how(tmp_path, cache):
    with pytest.raises(FileNotFoundError) as e:
        load_dataset("Fashion_MNIST", root=tmp_path / "nothing", download=False)
    msg = str(e.value)
    assert "train-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    assert str(tmp_path / "nothing" / "fashion-mnist") in msg and str(cache) in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "resnetlab data get fashion-mnist" in msg


@pytest.mark.parametrize("fmt", ["bin", "py"])
@pytest.mark.parametrize("hundred", [False, True])
def test_load_cifar_both_versions(tmp_path, cache, fmt, hundred):
    splits, names = tiny_cifar(tmp_path, fmt, hundred=hundred, n=6)
    name = "cifar100" if hundred else "cifar10"
    ds = load_dataset(name, "train", root=tmp_path, download=False)
    np.testing.assert_array_equal(ds.images.numpy(), splits["train"][0])
    np.testing.assert_array_equal(ds.labels.numpy(), splits["train"][1])
    assert ds.classes == names and ds.shape == (3, 32, 32)
    test = load_dataset(name, "test", root=tmp_path, download=False)
    np.testing.assert_array_equal(test.images.numpy(), splits["test"][0])
    assert test.mean == ds.mean


def test_channel_stats_exact():
    x = torch.tensor([0, 255, 51, 51], dtype=torch.uint8).reshape(4, 1, 1, 1).repeat(1, 2, 1, 1)
    x[:, 1] = 10
    mean, std = channel_stats(x)
    v = np.array([0, 255, 51, 51]) / 255
    assert mean == pytest.approx((v.mean(), 10 / 255)) and std == pytest.approx((v.std(), 0))


def _set(labels, n_classes=3):
    labels = torch.as_tensor(labels)
    images = torch.arange(len(labels), dtype=torch.uint8).reshape(-1, 1, 1, 1)
    names = [f"c{i}" for i in range(n_classes)]
    return ImageSet(images, labels, names, (0.5,), (0.2,), "t", "train")


def test_imageset_validates():
    with pytest.raises(ValueError, match="uint8"):
        ImageSet(torch.zeros(2, 1, 1, 1), torch.zeros(2), ["a"], (0,), (1,))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        _set([0, 2], n_classes=2)
    assert len(_set([0, 1, 2])) == 3


def test_split_validation_stratified_seeded_disjoint():
    ds = _set([0] * 60 + [1] * 30 + [2] * 10)
    train, val = split_validation(ds, 20, seed=3)
    assert len(train) == 80 and len(val) == 20 and val.split == "val"
    assert val.class_counts() == [12, 6, 2]
    ids_t, ids_v = set(train.images.flatten().tolist()), set(val.images.flatten().tolist())
    assert not ids_t & ids_v and len(ids_t | ids_v) == 100
    again = split_validation(ds, 20, seed=3)[1]
    assert torch.equal(again.images, val.images)
    other = split_validation(ds, 20, seed=4)[1]
    assert not torch.equal(other.images, val.images)
    assert train.mean == ds.mean
    with pytest.raises(ValueError, match="val_size"):
        split_validation(ds, 100)


def test_paper_45k_5k_split_is_balanced():
    ds = _set(torch.arange(50000) % 10, n_classes=10)
    train, val = split_validation(ds, 5000)
    assert len(train) == 45000 and val.class_counts() == [500] * 10


def test_stratified_subset_largest_remainder():
    ds = _set([0] * 5 + [1] * 5 + [2] * 5)
    sub = stratified_subset(ds, 7, seed=1)
    assert len(sub) == 7 and sorted(sub.class_counts()) == [2, 2, 3]
    assert sub.class_counts() == stratified_subset(ds, 7, seed=1).class_counts()
