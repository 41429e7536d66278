"""Gradient norms per convolution: one per conv, finite, positive, and SGD moves them."""

import math

import pytest
import torch

from resnetlab import create_model
from resnetlab.analysis.gradients import (
    conv_layers,
    data_batches,
    gradient_norms,
    gradient_profile,
    summarize,
)


def _batch(n=8, c=3, size=16):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, c, size, size, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("name,convs", [("resnet8", 7), ("plain14", 13)])
def test_one_finite_norm_per_conv(name, convs):
    model = create_model(name)
    assert len(conv_layers(model)) == convs
    loss, norms = gradient_norms(model, *_batch())
    assert len(norms) == convs
    assert all(math.isfinite(n) and n > 0 for n in norms)
    assert math.isfinite(loss)


def test_projection_shortcuts_are_counted_in_forward_order():
    model = create_model("resnet8", shortcut="B")
    names = [n for n, _ in conv_layers(model)]
    assert len(names) == 9  # 7 3x3 convs + 2 projections where dimensions grow
    assert names[0] == "conv1" and names.index("layer2.0.downsample.0") < names.index(
        "layer3.0.conv1")


def test_measuring_leaves_bn_statistics_and_grads_untouched():
    model = create_model("resnet8")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    gradient_norms(model, *_batch())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())


def test_profile_after_steps_differs_and_summary_is_consistent():
    torch.manual_seed(0)
    model = create_model("plain8")
    x, y = _batch()
    p = gradient_profile(model, "plain8", (x, y), lambda: iter([(x, y)]), steps=3)
    assert p.residual is False and p.steps == 3
    assert len(p.init) == len(p.after) == len(p.layers) == 7
    assert p.init != p.after
    assert p.summary["init_first_over_last"] == pytest.approx(p.init[0] / p.init[-1])


def test_profile_refuses_empty_data():
    model = create_model("resnet8")
    with pytest.raises(ValueError, match="no batch"):
        gradient_profile(model, "r", _batch(), lambda: iter([]), steps=2)


def test_summarize_ratio():
    s = summarize([0.1, 1.0, 10.0])
    assert s["first_over_last"] == pytest.approx(0.01)
    assert s["log10_spread"] == pytest.approx(2.0)


def test_synthetic_batches_are_fresh_each_epoch():
    (c, h, w, k), batches = data_batches("synthetic", 4)
    assert (c, h, w, k) == (3, 32, 32, 10)
    first = [x for x, _ in batches()]
    assert len(first) == 8 and first[0].shape == (4, 3, 32, 32)
    assert torch.equal(next(iter(batches()))[0], first[0])
