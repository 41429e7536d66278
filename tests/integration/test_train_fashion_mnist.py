"""End to end on real Fashion-MNIST: `resnetlab train` on a stratified subset, then
`resnetlab evaluate` reads only the run folder and agrees with the run's own numbers."""

import json

import pytest

from resnetlab.cli import main
from resnetlab.data import find

# Wherever `make data` put it: resnetlab's search order (it may have been downloaded into the
# user cache or installed by apt into /usr/share/datasets/fashion-mnist).
_found = find("fashion-mnist")
REAL = _found.folder if _found else None
pytestmark = pytest.mark.skipif(
    REAL is None, reason="real Fashion-MNIST not found where resnetlab looks (`make data` gets it)",
)


@pytest.mark.slow
def test_train_subset_then_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "resnet8", "--data", "fashion-mnist", "--data-root",
                 str(REAL), "--subset", "3000", "--val-size", "500", "--iters", "80",
                 "--batch-size", "64", "--out", str(out), "--progress", "off",
                 "--set", "warmup_iters=20", "--set", "eval_every=40",
                 "--set", "eval_batch_size=1000"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["train_images"] == 2500
    assert summary["final"]["test_error"] < 40  # chance is 90%
    assert summary["best"]["iter"] in (40, 80)
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["n"] == 10000 and r["classes"][0] == "T-shirt/top"
    assert r["top1_error"] == pytest.approx(summary["final"]["test_error"])
    assert main(["evaluate", str(out / "best.safetensors"), "--split", "val", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 500
