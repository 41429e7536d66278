"""Real Fashion-MNIST (downloaded, or Debian's package): counts, classes, pixel mean, loader."""

import pytest
import torch

from resnetlab.data import DeviceLoader, find, load_dataset, split_validation

# Wherever `make data` put it: resnetlab's search order (it may have been downloaded into the
# user cache or installed by apt into /usr/share/datasets/fashion-mnist).
_found = find("fashion-mnist")
REAL = _found.folder if _found else None
pytestmark = pytest.mark.skipif(
    REAL is None, reason="real Fashion-MNIST not found where resnetlab looks (`make data` gets it)",
)


@pytest.fixture(scope="module")
def train():
    return load_dataset("fashion-mnist", "train", root=REAL, download=False)


def test_official_sizes_classes_and_mean(train):
    test = load_dataset("fashion-mnist", "test", root=REAL, download=False)
    assert len(train) == 60000 and len(test) == 10000
    assert train.images.shape == (60000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert train.class_counts() == [6000] * 10 and test.class_counts() == [1000] * 10
    assert train.classes[0] == "T-shirt/top" and train.classes[9] == "Ankle boot"
    assert abs(train.mean[0] - 0.2860) <= 0.001
    assert abs(train.images.double().mean().item() / 255 - 0.2860) <= 0.001
    assert test.mean == train.mean


def test_validation_split_and_loader_epoch(train):
    tr, val = split_validation(train, 5000, seed=0)
    assert len(tr) == 55000 and val.class_counts() == [500] * 10
    loader = DeviceLoader.from_imageset(tr, 128, train=True, pad=4)
    seen = torch.cat([y for _, y in loader.epoch_batches(0)])
    assert len(seen) == len(loader) * 128 == 54912
    x, _ = next(loader.epoch_batches(1))
    assert x.shape == (128, 1, 28, 28) and abs(x.mean().item()) < 0.5


def test_cli_info_json(capsys):
    import json

    from resnetlab.cli import main

    assert main(["data", "info", "fashion-mnist", "--root", str(REAL), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["splits"]["train"]["size"] == 60000 and info["splits"]["test"]["size"] == 10000
    assert info["shape"] == [1, 28, 28] and abs(info["mean"][0] - 0.2860) <= 0.001
