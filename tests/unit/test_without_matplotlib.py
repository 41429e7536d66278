"""matplotlib is the optional `plots` extra: train, evaluate, predict and export work without
it, and say in one line what they did not draw and how to get it."""

import json
import sys

import pytest
from PIL import Image
from train_helpers import learnable_mnist

from resnetlab.cli import main

HINT = "pip install 'resnetlab[plots]'"


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Any import of matplotlib fails, as when it is not installed (resnetlab imports it
    only inside its plotting functions, so no resnetlab module needs reloading)."""
    for name in list(sys.modules):
        if name.startswith("matplotlib"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_train_evaluate_predict_export_without_matplotlib(no_matplotlib, tmp_path, capsys):
    root = learnable_mnist(tmp_path / "mnist", n_train=64, n_test=32)
    out = tmp_path / "run"
    assert main(["train", "--model", "resnet8", "--data", "mnist", "--data-root", str(root),
                 "--iters", "4", "--batch-size", "32", "--out", str(out), "--device", "cpu",
                 "--set", "threads=1", "--progress", "off"]) == 0
    text = capsys.readouterr().out
    assert f"curves.png not written: plots need matplotlib, which is not installed: {HINT}" in text
    assert "curves:" not in text and not (out / "curves.png").exists()
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"

    assert main(["evaluate", str(out), "--data-root", str(root), "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert "top-1" in captured.out.lower() and HINT in captured.err
    assert (out / "eval-model-mnist-test.json").is_file()

    Image.new("L", (28, 28), 128).save(tmp_path / "a.png")
    assert main(["predict", str(out), str(tmp_path / "a.png"), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["predictions"]) == 1

    assert main(["export", str(out), "--format", "torchscript", "--out",
                 str(tmp_path / "m.pt")]) == 0
    assert (tmp_path / "m.pt").is_file()
    assert "matplotlib" not in sys.modules or sys.modules["matplotlib"] is None


def test_figures_without_matplotlib_name_the_extra(no_matplotlib, tmp_path):
    from resnetlab.analysis.figures import depth_figure

    with pytest.raises(ImportError, match=r"resnetlab\[plots\]"):
        depth_figure([{"depth": 20, "mean": 8.0, "std": None}], tmp_path / "d.png")


def test_commands_made_of_figures_refuse_up_front_naming_the_extra(no_matplotlib, tmp_path,
                                                                    capsys):
    # reproduce and analyze gradients would train or measure for minutes, then fail at the
    # first figure: they stop before any work, with one line naming the fix, not a traceback
    out = tmp_path / "out"
    assert main(["reproduce", "degradation", "--budget", "smoke", "--out", str(out),
                 "--runs", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("resnetlab reproduce: error: reproduce degradation draws its figures")
    assert HINT in err and "Traceback" not in err
    assert not out.exists() and not (tmp_path / "runs").exists()
    assert main(["analyze", "gradients", "resnet8", "--out", str(out)]) == 2
    assert HINT in capsys.readouterr().err and not out.exists()
