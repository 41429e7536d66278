"""Learning-rate schedules: the paper's steps and error-triggered warm-up, cosine, one-cycle,
plateau; their state survives a save/load."""

import math

import pytest

from resnetlab.train import load_recipe
from resnetlab.train.schedule import ERROR_WINDOW, LRSchedule


def paper(depth, **kw):
    return LRSchedule(load_recipe("paper-cifar", kw), 64000, 352, depth=depth)


def test_paper_cifar_steps_at_32k_and_48k():
    s = paper(20)
    assert not s.in_warmup(0)
    lrs = {it: s.lr(it) for it in (0, 31999, 32000, 47999, 48000, 63999)}
    assert lrs[0] == lrs[31999] == 0.1
    assert lrs[32000] == pytest.approx(0.01) and lrs[47999] == pytest.approx(0.01)
    assert lrs[48000] == pytest.approx(0.001) and lrs[63999] == pytest.approx(0.001)


def test_depth_110_warms_up_at_0_01_then_returns_to_0_1_after_400_iterations():
    s = paper(110)
    assert s.lr(0) == 0.01 and s.lr(399) == 0.01
    assert s.lr(400) == 0.1  # back to 0.1, not kept at 0.01
    assert s.lr(32000) == pytest.approx(0.01)


def test_warmup_ends_early_once_training_error_is_below_80_percent():
    s = paper(110)
    for it in range(50):
        s.observe_train(it, 90.0)
    assert s.lr(50) == 0.01
    # the mean of the last ERROR_WINDOW=10 batches: 7 at 90% and 3 at 50% is 78% < 80%
    assert ERROR_WINDOW == 10
    for it in (50, 51):
        s.observe_train(it, 50.0)
    assert s.lr(52) == 0.01
    s.observe_train(52, 50.0)
    end = 53
    assert s.lr(end - 1) == 0.01 and s.lr(end) == 0.1 and not s.watches_train_error(end)
    s.observe_train(end, 99.0)  # a bad batch afterwards does not bring the warm-up back
    assert s.lr(end + 1) == 0.1


def test_warmup_only_for_deep_enough_nets():
    assert not paper(56).in_warmup(0) and paper(56).lr(0) == 0.1
    assert paper(1202).lr(0) == 0.01


def test_cosine_and_onecycle_shapes():
    cfg = load_recipe("demo", {"schedule": "cosine", "iters": 1000, "lr": 0.4,
                               "warmup": "linear", "warmup_iters": 100, "warmup_lr": 0.04,
                               "final_lr": 0.0})
    s = LRSchedule(cfg, 1000)
    assert s.lr(0) == pytest.approx(0.04) and s.lr(50) == pytest.approx(0.22)
    assert s.lr(100) == pytest.approx(0.4) and s.lr(550) == pytest.approx(0.2)
    assert s.lr(1000) == pytest.approx(0.0, abs=1e-12)
    cfg.schedule = "onecycle"
    s = LRSchedule(cfg, 1000)
    assert s.lr(100) == pytest.approx(0.4) and s.lr(550) == pytest.approx(0.2)
    assert s.lr(999) == pytest.approx(0.4 / 900)
    lrs = [s.lr(i) for i in range(1000)]
    assert max(lrs) == pytest.approx(0.4) and lrs.index(max(lrs)) == 100


def test_plateau_decays_after_patience_and_state_roundtrips():
    cfg = load_recipe("paper-imagenet", {"plateau_patience": 2, "plateau_threshold": 0.5})
    s = LRSchedule(cfg, 10**6, 5005)
    for err in (50.0, 40.0, 39.8, 39.9):  # two evaluations without a 0.5-point gain
        s.observe_val(err)
    assert s.lr(0) == pytest.approx(0.01)
    saved = s.state_dict()
    t = LRSchedule(cfg, 10**6, 5005)
    assert t.lr(0) == 0.1
    t.load_state_dict(saved)
    assert t.lr(0) == pytest.approx(0.01) and t.best_val == 40.0
    s.observe_val(30.0)
    s.observe_val(29.9)
    s.observe_val(29.8)
    assert s.lr(0) == pytest.approx(0.001)
    assert math.isinf(LRSchedule(cfg, 10).best_val)


def test_schedule_lr_sets_exactly_the_schedules_lr_and_a_plateau_acts_on_the_next_step():
    import torch

    from resnetlab.train import ScheduleLR

    cfg = load_recipe("paper-imagenet", {"plateau_patience": 1, "plateau_threshold": 0.5})
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [w]}, {"params": [], "lr": cfg.lr / 2}], lr=cfg.lr)
    sched = ScheduleLR(opt, cfg, 10**6, 5005)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == LRSchedule(cfg, 10**6, 5005).lr(1)
    sched.observe_val(50.0)
    sched.observe_val(49.9)  # no 0.5-point gain: decayed, before the next step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([cfg.lr * cfg.gamma,
                                                                 cfg.lr * cfg.gamma / 2])
    assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]


# -- short runs get short schedules (issue 14, part 3) ----------------------------------------

def test_paper_cifar_at_full_length_is_exactly_the_papers():
    from resnetlab.reproduce.runner import config_key
    from resnetlab.train import load_recipe
    from resnetlab.train.schedule import timing

    c = load_recipe("paper-cifar", rescale=True)
    assert c.schedule_reference == {}
    eff = timing(c, 64000, 352, 50000)
    assert (eff.milestones, eff.warmup_iters) == ([32000, 48000], 400)
    assert config_key(c) == config_key(load_recipe("paper-cifar"))


def test_shortening_a_run_moves_milestones_and_warmup_to_the_same_fractions():
    from resnetlab.train import load_recipe
    from resnetlab.train.schedule import describe, timing

    c = load_recipe("paper-cifar", {"iters": 640}, rescale=True)
    assert load_recipe("paper-cifar", {"epochs": 2}, rescale=True).schedule_reference[
        "iters"] == 64000
    assert c.schedule_reference["iters"] == 64000
    eff = timing(c, 640, 10, 50000)
    assert (eff.milestones, eff.warmup_iters) == ([320, 480], 4)
    assert "0.01 at 320" in describe(c, eff, 640) and "0.001 at 480" in describe(c, eff, 640)
    # the demo's 300-iteration warm-up of a 4-epoch run becomes 1/8 as long in half an epoch
    d = load_recipe("demo", {"epochs": 0.5}, rescale=True)
    total = 234  # 60000 // 128 batches a epoch, half of them
    eff = timing(d, total, 468, 60000)
    assert eff.warmup_iters == round(300 * total / (4 * 468))
    # explicit milestones are used as stated; without rescale nothing moves
    e = load_recipe("paper-cifar", {"iters": 640, "milestones": [100]}, rescale=True)
    assert timing(e, 640, 10, 50000).milestones == [100]
    assert load_recipe("paper-cifar", {"iters": 640}).schedule_reference == {}


def test_a_subset_scales_the_held_out_part_or_the_message_names_val_size():
    from resnetlab.train import load_recipe
    from resnetlab.train.data import _check_val, data_options, held_out

    c = load_recipe("paper-cifar", {"epochs": 2, "subset": 5000}, rescale=True)
    assert held_out(data_options(c), 50000) == 500
    explicit = load_recipe("paper-cifar", {"subset": 5000, "val_size": 5000}, rescale=True)
    assert held_out(data_options(explicit), 50000) == 5000
    with pytest.raises(ValueError, match="--val-size"):
        _check_val(data_options(explicit), 5000, 5000)


def test_a_key_the_schedule_ignores_is_an_error_and_a_flat_lr_warns():
    from resnetlab.train import load_recipe
    from resnetlab.train.schedule import never_decays, timing

    with pytest.raises(ValueError, match="milestones is ignored under schedule='onecycle'"):
        load_recipe("demo", {"milestones": [10]})
    with pytest.raises(ValueError, match="plateau_patience"):
        load_recipe("paper-cifar", {"plateau_patience": 2})
    c = load_recipe("paper-cifar", {"iters": 100})  # stated milestones 32k/48k: never fire
    assert never_decays(c, timing(c, 100, 10, 50000), 100)
    short = load_recipe("paper-cifar", {"iters": 100}, rescale=True)
    assert not never_decays(short, timing(short, 100, 10, 50000), 100)
