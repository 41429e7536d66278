"""`resnetlab data get|info` and `resnetlab bench data`, end to end on tiny files."""

import json

import pytest
import torch
from datafiles import isolate, make_folder, tiny_mnist

from resnetlab.cli import main


@pytest.fixture
def root(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    tiny_mnist(tmp_path / "data" / "mnist", n_train=30, n_test=10)
    return tmp_path / "data"


def test_info_json(root, capsys):
    assert main(["data", "info", "mnist", "--root", str(root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "mnist" and info["shape"] == [1, 28, 28]
    assert info["splits"]["train"] == {"size": 30, "class_counts": [3] * 10}
    assert info["splits"]["test"]["size"] == 10 and len(info["mean"]) == 1
    assert info["location"] == str(root / "mnist")


def test_info_text_and_get(root, capsys):
    assert main(["data", "info", "mnist", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "train: 30 images" in out and "train mean:" in out and "9 9" in out.replace("  ", " ")
    assert main(["data", "get", "mnist", "--root", str(root)]) == 0
    assert str(root / "mnist") in capsys.readouterr().out


def test_info_image_folder(tmp_path, capsys):
    make_folder(tmp_path / "imgs" / "train", per_class=2)
    make_folder(tmp_path / "imgs" / "val", per_class=1)
    assert main(["data", "info", str(tmp_path / "imgs"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["classes"] == ["cat", "dog", "eel"]
    assert info["splits"]["train"]["class_counts"] == [2, 2, 2]
    assert info["splits"]["val"]["size"] == 3


def test_missing_data_exits_2_with_the_fix(root, capsys):
    assert main(["data", "info", "cifar10", "--root", str(root), "--offline"]) == 2
    err = capsys.readouterr().err
    assert "resnetlab data: error: cifar10: data set not found" in err
    assert "resnetlab data get cifar10" in err


def test_bench_data_json(root, capsys):
    assert main(["bench", "data", "--data", "mnist", "--root", str(root), "--batch-size", "8",
                 "--batches", "3", "--model", "none", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images_per_second"] > 0 and result["loader"] == "DeviceLoader"
    assert result["batch_size"] == 8
    m = result["machine"]
    assert set(m) >= {"cpu", "cores", "cpu_count", "torch_threads", "load_average", "python",
                      "torch", "platform", "date"}
    assert m["cpu_count"] == m["cores"] >= 1 and m["torch"] == torch.__version__


def test_bench_folder_json(tmp_path, capsys):
    make_folder(tmp_path / "f", per_class=4)
    assert main(["bench", "data", "--data", str(tmp_path / "f"), "--batch-size", "4",
                 "--batches", "2", "--workers", "0", "--transform", "rrc", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["loader"] == "FolderLoader" and result["images_per_second"] > 0
    assert result["by_workers"][0]["workers"] == 0


def test_bench_data_with_randaugment_and_mixing(root, capsys):
    assert main(["bench", "data", "--data", "mnist", "--root", str(root), "--batch-size", "8",
                 "--batches", "3", "--model", "none", "--augment", "randaugment",
                 "--magnitude", "6", "--mixup", "0.2", "--cutmix", "1.0"]) == 0
    out = capsys.readouterr().out
    assert "augment randaugment m6, mixup 0.2, cutmix 1" in out
    assert main(["bench", "data", "--data", "mnist", "--root", str(root), "--model", "none",
                 "--augment", "randaugment", "--magnitude", "30"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("resnetlab bench: error: randaugment_magnitude must be in 0..10 (the paper's "
                   "and timm's scale), got 30.0")
