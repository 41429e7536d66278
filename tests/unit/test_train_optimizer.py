"""AdamW / LAMB / LARS steps against their papers' update rules written out here, the
exclusion of undecayed groups from the trust ratio, the losses, and one-line errors."""

import math

import pytest
import torch
import torch.nn.functional as F

from resnetlab.train.losses import Loss
from resnetlab.train.optimizer import Lamb, Lars, make_optimizer


def _params(seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(5, 4, generator=g)
    grads = [torch.randn(5, 4, generator=g) for _ in range(3)]
    return w, grads


def _run(opt_factory, w0, grads, lr_steps=None):
    p = torch.nn.Parameter(w0.clone())
    opt = opt_factory([p])
    for i, g in enumerate(grads):
        if lr_steps:
            opt.param_groups[0]["lr"] = lr_steps[i]
        p.grad = g.clone()
        opt.step()
    return p.detach()


def test_lamb_matches_algorithm_2():
    w0, grads = _params()
    lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-6, 0.02
    got = _run(lambda ps: Lamb([{"params": ps, "weight_decay": wd}], lr=lr, eps=eps), w0, grads)
    w, m, v = w0.clone(), torch.zeros_like(w0), torch.zeros_like(w0)
    for t, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        r = (m / (1 - b1 ** t)) / ((v / (1 - b2 ** t)).sqrt() + eps)
        u = r + wd * w
        w = w - lr * (w.norm() / u.norm()) * u
    torch.testing.assert_close(got, w)


def test_lamb_without_decay_is_not_adapted_unless_asked():
    """A group with weight_decay 0 (norms, biases) takes Adam's step; always_adapt scales it."""
    w0, grads = _params(1)
    plain = _run(lambda ps: Lamb([{"params": ps, "weight_decay": 0.0}], lr=0.01), w0, grads[:1])
    torch.testing.assert_close(plain, w0 - 0.01 * grads[0] / (grads[0].abs() + 1e-6),
                               rtol=1e-5, atol=1e-6)
    adapted = _run(lambda ps: Lamb([{"params": ps, "weight_decay": 0.0}], lr=0.01,
                                   always_adapt=True), w0, grads[:1])
    step = grads[0] / (grads[0].abs() + 1e-6)
    torch.testing.assert_close(adapted, w0 - 0.01 * w0.norm() / step.norm() * step)
    big = _run(lambda ps: Lamb([{"params": ps, "weight_decay": 0.0}], lr=0.01, always_adapt=True,
                               trust_clip=True), w0 * 100, grads[:1])
    torch.testing.assert_close(big, w0 * 100 - 0.01 * step, rtol=1e-5, atol=1e-5)  # ratio capped


def test_lars_matches_algorithm_1():
    w0, grads = _params(2)
    lrs, mom, wd, eta = [0.5, 0.4, 0.3], 0.9, 5e-4, 0.001
    got = _run(lambda ps: Lars([{"params": ps, "weight_decay": wd}], lr=0.5, momentum=mom,
                               trust_coefficient=eta, eps=0.0), w0, grads, lrs)
    w, vel = w0.clone(), torch.zeros_like(w0)
    for lr, g in zip(lrs, grads):
        local = eta * w.norm() / (g.norm() + wd * w.norm())
        vel = mom * vel + lr * local * (g + wd * w)
        w = w - vel
    torch.testing.assert_close(got, w)


def test_lars_trust_clip_caps_the_local_lr_at_the_global_one():
    w0, grads = _params(3)
    got = _run(lambda ps: Lars([{"params": ps, "weight_decay": 1e-4}], lr=1e-5,
                               trust_coefficient=1.0, trust_clip=True), w0, grads[:1])
    torch.testing.assert_close(got, w0 - 1e-5 * (grads[0] + 1e-4 * w0))


def test_adamw_is_torchs_decoupled_rule():
    w0, grads = _params(4)
    lr, wd = 0.01, 0.1
    got = _run(lambda ps: make_optimizer("adamw", [{"params": ps, "weight_decay": wd}], lr=lr),
               w0, grads[:1])
    g = grads[0]
    m, v = 0.1 * g / 0.1, 0.001 * g * g / 0.001
    torch.testing.assert_close(got, w0 * (1 - lr * wd) - lr * m / (v.sqrt() + 1e-8))


def test_groups_keep_their_weight_decay():
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3))
    decay = [net[0].weight]
    rest = [net[0].bias, net[1].weight, net[1].bias]
    for name in ("sgd", "adamw", "lamb", "lars"):
        opt = make_optimizer(name, [{"params": decay, "weight_decay": 0.1},
                                    {"params": rest, "weight_decay": 0.0}], lr=0.1)
        assert [gr["weight_decay"] for gr in opt.param_groups] == [0.1, 0.0]


@pytest.mark.parametrize("call,message", [
    (lambda ps: make_optimizer("lars", ps, lr=1.0, momentum=0.0),
     r"optimizer lars needs momentum in \(0, 1\)"),
    (lambda ps: make_optimizer("adam", ps, lr=1.0), "optimizer 'adam' is unknown; choose from"),
    (lambda ps: make_optimizer("lamb", ps, lr=1.0, nesterov=True), "nesterov applies to"),
])
def test_bad_optimizer_settings_are_one_line(call, message):
    with pytest.raises(ValueError, match=message) as err:
        call([torch.nn.Parameter(torch.ones(2))])
    assert "\n" not in str(err.value)


def test_soft_target_ce_equals_hard_ce_with_smoothing():
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    soft = torch.full((6, 4), 0.1 / 4).scatter_(1, y[:, None], 0.9 + 0.1 / 4)
    hard = Loss("ce", label_smoothing=0.1)(logits, y)
    torch.testing.assert_close(Loss("ce")(logits, soft), hard)
    torch.testing.assert_close(hard, F.cross_entropy(logits, y, label_smoothing=0.1))


def test_bce_on_labels_soft_targets_and_threshold():
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 2, 1, 2])
    onehot = F.one_hot(y, 3).float()
    torch.testing.assert_close(Loss("bce")(logits, y),
                               F.binary_cross_entropy_with_logits(logits, onehot))
    mixed = 0.7 * onehot + 0.3 * onehot.flip(0)
    by_hand = -(mixed * F.logsigmoid(logits) + (1 - mixed) * F.logsigmoid(-logits)).mean()
    torch.testing.assert_close(Loss("bce")(logits, mixed), by_hand)
    thresholded = Loss("bce", bce_target_threshold=0.2)(logits, mixed)
    torch.testing.assert_close(thresholded, F.binary_cross_entropy_with_logits(
        logits, (mixed > 0.2).float()))
    assert not math.isclose(thresholded.item(), Loss("bce")(logits, mixed).item())


@pytest.mark.parametrize("kwargs,message", [
    ({"kind": "focal"}, "loss 'focal' is unknown; choose from ce, bce"),
    ({"kind": "ce", "bce_target_threshold": 0.2}, "bce_target_threshold .* needs loss bce"),
    ({"kind": "ce", "label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\)"),
])
def test_bad_loss_settings_are_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Loss(**kwargs)
