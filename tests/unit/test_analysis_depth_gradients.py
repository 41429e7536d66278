"""Gradient norm per block at init, across families and depths (`analyze gradients --families`)."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from resnetlab.analysis import depth_gradients
from resnetlab.analysis.depth_gradients import (
    block_gradient_norms,
    compare_families,
    model_name,
    residual_blocks,
)
from resnetlab.cli import main
from resnetlab.models import build_model


def _batch(n=8, size=16):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, size, size, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("name,dtype", [("resnet8", torch.float32), ("plain14", torch.float32),
                                        ("plain56", torch.float64)])
def test_norms_equal_autograd_at_each_block_input_and_the_output(name, dtype):
    """The per-block rescaled measurement equals plain autograd on the same net (plain56's
    gradient grows 1e3-fold from the output to the first block; float64 for a tight check)."""
    torch.manual_seed(0)
    model = build_model(name).to(dtype)
    x, y = _batch()
    x = x.to(dtype)
    loss, norms, rms = block_gradient_norms(model, x, y)
    blocks = residual_blocks(model)
    assert len(norms) == len(blocks) + 1 and all(math.isfinite(v) and v > 0 for v in norms)
    assert all(p.grad is None for p in model.parameters())

    # The same quantities by hand: keep every block's input and the last output, then grad.
    kept = []
    hooks = [b.register_forward_pre_hook(lambda _m, a: kept.append(a[0])) for b in blocks]
    hooks.append(blocks[-1].register_forward_hook(lambda _m, _a, o: kept.append(o)))
    model.train()
    ref_loss = F.cross_entropy(model(x), y)
    for h in hooks:
        h.remove()
    grads = torch.autograd.grad(ref_loss, kept)
    # BN's running statistics moved once more, not its batch statistics: same forward.
    assert ref_loss.item() == pytest.approx(loss, rel=1e-6)
    assert norms == pytest.approx([float(g.norm()) for g in grads], rel=1e-4)
    assert rms == pytest.approx([float(t.detach().pow(2).mean().sqrt()) for t in kept],
                                rel=1e-5)
    if name == "plain56":
        assert norms[0] / norms[-1] > 1e3


def test_names_per_family_and_the_unknown_family():
    assert [model_name(f, 56) for f in ("plain", "original", "preact")] == [
        "plain56", "resnet56", "preact_resnet56"]
    with pytest.raises(ValueError, match="unknown family 'wide': use plain, original, preact"):
        model_name("wide", 20)


def test_compare_writes_figure_json_caches_and_skips(tmp_path, monkeypatch):
    out = tmp_path / "g"
    lines = []
    report, payload = compare_families(["plain", "original"], [8, 9], out, batch_size=8,
                                       log=lines.append)
    assert [(r["model"], r["blocks"]) for r in payload["results"]] == [("plain8", 3),
                                                                       ("resnet8", 3)]
    assert [(s["family"], s["depth"]) for s in payload["skipped"]] == [("plain", 9),
                                                                      ("original", 9)]
    assert "6n+2" in payload["skipped"][0]["why"]
    r = payload["results"][1]
    assert r["first_over_last"] == pytest.approx(r["norms"][0] / r["norms"][-1])
    with Image.open(out / "gradients.png") as im:
        assert im.format == "PNG"
    saved = json.loads((out / "results.json").read_text())
    assert saved["results"] == payload["results"] and "machine" in saved
    assert "first / output" in report.read_text()

    # A second run reads every net from the cache and measures nothing.
    monkeypatch.setattr(depth_gradients, "measure", lambda *a, **k: pytest.fail("measured"))
    _, again = compare_families(["plain", "original"], [8], out, batch_size=8, log=lines.append)
    assert again["results"] == payload["results"][:1] + payload["results"][1:2]
    assert lines[-2:] == ["plain8: cached", "resnet8: cached"]


def test_cli_refuses_models_with_families_and_bad_depths(tmp_path, capsys):
    assert main(["analyze", "gradients", "resnet8", "--families", "plain", "--out",
                 str(tmp_path)]) == 2
    assert "either models (resnet8) or --families" in capsys.readouterr().err
    assert main(["analyze", "gradients", "--depths", "20,x", "--out", str(tmp_path)]) == 2
    assert "--depths takes a comma-separated list of ints, got '20,x'" in capsys.readouterr().err
    assert main(["analyze", "gradients", "--out", str(tmp_path)]) == 2
    assert "--families plain,original,preact" in capsys.readouterr().err
    assert main(["analyze", "gradients", "--families", "preact", "--depths", "21", "--out",
                 str(tmp_path)]) == 2
    assert "no net to measure: preact_resnet depth must be 6n+2" in capsys.readouterr().err


def test_cli_families_end_to_end(tmp_path, capsys):
    assert main(["analyze", "gradients", "--families", "plain,original", "--depths", "8",
                 "--batch-size", "8", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| plain | 8 | plain8 | basic | 3 |" in out
    assert (tmp_path / "gradients.png").is_file()
