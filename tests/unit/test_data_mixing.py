"""mixup / CutMix: targets sum to 1, CutMix's pasted area is 1 - λ, mixup's pixels are the
λ blend, the switch probability, and one-line errors."""

import numpy as np
import pytest
import torch

from resnetlab.data.pipeline.mixing import MixDraw, Mixup, cutmix_box, mix, soft_targets
from resnetlab.data.pipeline.policies import batch_rng


def _batch(b=8, h=16, w=12):
    """Image i is constant i + 1, so a pixel's value names the image it came from."""
    x = torch.arange(1, b + 1, dtype=torch.float32)[:, None, None, None].expand(b, 2, h, w)
    return x.contiguous(), torch.arange(b) % 5


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_mixed_targets_sum_to_one_and_weigh_both_labels(smoothing):
    mixer = Mixup(5, mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=smoothing)
    for i in range(20):
        x, y = _batch()
        _, t = mixer(x, y, batch_rng(0, 0, i))
        torch.testing.assert_close(t.sum(1), torch.ones(8))
        assert (t >= 0).all()
    t = soft_targets(torch.tensor([0, 3]), 5, lam=0.7, label_smoothing=0.1)
    torch.testing.assert_close(t[0], torch.tensor([0.7 * 0.92 + 0.3 * 0.02, 0.02, 0.02,
                                                   0.7 * 0.02 + 0.3 * 0.92, 0.02]))


def test_cutmix_pasted_area_matches_lambda():
    mixer = Mixup(5, cutmix_alpha=1.0)
    seen = 0
    for i in range(30):
        x, y = _batch()
        d = mixer.draw(batch_rng(1, 0, i), 16, 12)
        mix(x, d)
        own = (x == torch.arange(1, 9, dtype=torch.float32)[:, None, None, None])
        kept = own.float().mean(dim=(1, 2, 3))
        torch.testing.assert_close(kept, torch.full((8,), d.lam))
        seen += d.box is not None and 0 < d.lam < 1
    assert seen > 20


def test_cutmix_box_is_clipped_and_lambda_corrected():
    rng = np.random.default_rng(0)
    for _ in range(200):
        box, lam = cutmix_box(10, 10, 0.3, rng)
        y0, y1, x0, x1 = box
        assert 0 <= y0 <= y1 <= 10 and 0 <= x0 <= x1 <= 10
        assert lam == pytest.approx(1 - (y1 - y0) * (x1 - x0) / 100)
        assert lam >= 0.3 - 1e-9  # clipping only shrinks the box


def test_mixup_blends_each_image_with_its_mirror():
    x, y = _batch()
    mix(x, MixDraw(0.75))
    expected = 0.75 * torch.arange(1, 9) + 0.25 * torch.arange(8, 0, -1)
    torch.testing.assert_close(x[:, 0, 0, 0], expected.float())


def test_switch_probability_and_prob_choose_the_mix():
    both = Mixup(5, mixup_alpha=1.0, cutmix_alpha=1.0, switch_prob=0.25)
    draws = [both.draw(batch_rng(2, 0, i), 16, 16) for i in range(400)]
    assert 0.15 < np.mean([d.box is not None for d in draws]) < 0.35
    half = Mixup(5, mixup_alpha=1.0, prob=0.5)
    assert 0.4 < np.mean([half.draw(batch_rng(3, 0, i), 8, 8).lam < 1 for i in range(400)]) < 0.6
    x, y = _batch()
    _, t = Mixup(5)(x, y, batch_rng(0, 0, 0))  # both alphas 0: off, targets one-hot
    assert torch.equal(t.argmax(1), y) and torch.equal(x, _batch()[0])


@pytest.mark.parametrize("kwargs,message", [
    ({"mixup_alpha": -0.2}, "mixup_alpha must be >= 0 \\(0 = off\\), got -0.2"),
    ({"cutmix_alpha": -1}, "cutmix_alpha must be >= 0"),
    ({"mixup_alpha": 0.2, "prob": 1.5}, "mix_prob must be in 0..1, got 1.5"),
])
def test_bad_mixing_is_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message) as err:
        Mixup(10, **kwargs)
    assert "\n" not in str(err.value)
