"""Early stopping stops, top-k keeps k (the k best files on disk), and EMA warm-up follows
min(decay, (1 + n) / (10 + n)) and survives a state_dict round trip."""

import pytest
import torch

from resnetlab.train.ema import ema_decay, make_ema
from resnetlab.train.selection import EarlyStopping, TopK


def test_early_stopping_stops_after_patience_without_improvement():
    stopper = EarlyStopping(patience=3, min_delta=0.1)
    errors = [10.0, 9.0, 8.95, 9.5, 8.91, 7.0, 7.0, 7.0, 7.0]
    decisions = [stopper.stop(e) for e in errors]
    # 8.95 and 8.91 do not beat 9.0 by more than 0.1; 7.0 resets; three 7.0s in a row stop
    assert decisions == [False, False, False, False, True, False, False, False, True]
    assert not any(EarlyStopping(0).stop(e) for e in errors)


def test_early_stopping_resumes_its_count():
    a = EarlyStopping(patience=2)
    a.stop(5.0)
    a.stop(6.0)
    b = EarlyStopping(patience=2)
    b.load_state_dict(a.state_dict())
    assert b.stop(6.0) and a.stop(6.0)


def test_top_k_keeps_the_k_best_files(tmp_path):
    keeper = TopK(tmp_path, k=3)
    errors = {100: 9.0, 200: 7.0, 300: 8.0, 400: 10.0, 500: 6.0, 600: 7.0, 700: 8.5}
    saved = [keeper.offer(it, e, lambda p: p.write_text("w")) for it, e in errors.items()]
    assert saved == [True, True, True, False, True, True, False]
    on_disk = sorted(p.name for p in tmp_path.iterdir())
    assert on_disk == [keeper.path(it).name for it in (200, 500, 600)]
    assert [it for _, it in keeper.kept] == [500, 200, 600]  # ties keep the earlier
    again = TopK(tmp_path, k=3)
    again.load_state_dict(keeper.state_dict())
    assert again.offer(800, 1.0, lambda p: p.write_text("w"))
    assert not keeper.path(600).exists() and len(list(tmp_path.iterdir())) == 3


def test_bad_selection_settings_are_one_line(tmp_path):
    with pytest.raises(ValueError, match="early_stop_patience and early_stop_delta must be >= 0"):
        EarlyStopping(-1)
    with pytest.raises(ValueError, match="keep_top_k must be >= 0"):
        TopK(tmp_path, -2)
    with pytest.raises(ValueError, match=r"ema must be a decay in \(0, 1\)"):
        make_ema(torch.nn.Linear(2, 2), 1.0)


def test_ema_warmup_follows_the_tensorflow_rule():
    n = torch.arange(0, 20000)
    d = ema_decay(0.999, n, warmup=True)
    assert d[0] == pytest.approx(0.1) and d[90] == pytest.approx(91 / 100)
    assert d[-1] == pytest.approx(0.999) and (d <= 0.999 + 1e-7).all()
    assert (ema_decay(0.999, n, warmup=False) == torch.tensor(0.999)).all()


@pytest.mark.parametrize("warmup", [False, True])
def test_ema_average_by_hand_and_resume(warmup):
    net = torch.nn.Linear(2, 1, bias=False)
    ema = make_ema(net, 0.9, warmup=warmup)
    by_hand = net.weight.detach().clone()
    for step in range(1, 6):
        with torch.no_grad():
            net.weight.fill_(float(step))
        ema.update_parameters(net)
        if step > 1:  # AveragedModel's first update copies the weights
            d = min(0.9, (1 + step - 1) / (10 + step - 1)) if warmup else 0.9
            by_hand = d * by_hand + (1 - d) * net.weight.detach()
        else:
            by_hand = net.weight.detach().clone()
        torch.testing.assert_close(ema.module.weight, by_hand)
    copy = make_ema(torch.nn.Linear(2, 1, bias=False), 0.9, warmup=warmup)
    copy.load_state_dict(ema.state_dict())
    for m in (ema, copy):
        m.update_parameters(net)
    torch.testing.assert_close(copy.module.weight, ema.module.weight)
