"""What a person sees: plain progress lines when the output is not a terminal."""

import io

from resnetlab.train.progress import Progress

ROW = {"train_loss": 0.5, "train_error": 12.5, "lr": 0.1, "images_per_second": 800.0}


def test_plain_lines_name_epoch_iteration_loss_error_lr_speed_and_eta():
    out = io.StringIO()
    p = Progress(total=100, batches_per_epoch=40, stream=out)
    assert p.mode == "lines"  # StringIO is not a terminal
    p.start(0)
    p.update(20, ROW)
    p.update(30, ROW)  # within LINE_SECONDS of the last line: not printed
    p.note(40, {"val_error": 9.0, "test_error": 8.5})
    p.update(100, ROW)  # the last iteration is always printed
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("iter 20/100 epoch 0.50 loss 0.500 err 12.5% lr 0.1 img/s 800")
    assert " eta " in lines[0] and len(lines) == 3
    assert lines[1] == "iter 40/100: val error 9.00%, test error 8.50%"
    assert lines[2].startswith("iter 100/100 epoch 2.50")


def test_off_and_resumed_runs():
    out = io.StringIO()
    Progress(10, 5, mode="off", stream=out).update(5, ROW)
    assert out.getvalue() == ""
    p = Progress(10, 5, mode="lines", stream=out)
    p.start(4)
    assert out.getvalue() == "resuming at iteration 4 of 10\n"


def _last_render(text: str) -> str:
    return [s for s in text.replace("\n", "\r").split("\r") if s.strip()][-1]


def test_the_bar_fits_80_columns_says_evaluating_and_its_eta_counts_evaluations(monkeypatch):
    from resnetlab.train import progress

    now = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    out = io.StringIO()
    p = Progress(total=64000, batches_per_epoch=352, mode="bar", stream=out, eval_every=2000,
                 ncols=80)
    p.start(0)
    now[0] = 100.0
    row = {**ROW, "train_loss": 2.3456, "train_error": 88.8, "images_per_second": 12345.0}
    p.update(1000, row)
    p.bar.refresh()  # tqdm redraws at most every mininterval of its own clock
    line = _last_render(out.getvalue())
    assert len(line) <= 80 and "img/s" in line and "eta " in line and "|" in line
    assert line.count("█") + line.count(" ") > 5  # the bar itself keeps some width
    assert p.eta_seconds(1000) == 100.0 / 1000 * 63000  # no evaluation measured yet
    p.evaluating(2000)
    assert "evaluating" in _last_render(out.getvalue())
    assert len(_last_render(out.getvalue())) <= 80
    now[0] = 130.0  # a 30-second evaluation
    p.note(2000, {"val_error": 50.0})
    assert p.evals_left(2000) == 30 + 1  # at 4000 ... 62000, and the final one
    assert p.eta_seconds(2000) == 100.0 / 2000 * 62000 + 30.0 * 31
    p.update(2001, row)
    p.bar.refresh()
    assert "evaluating" not in _last_render(out.getvalue())
    p.close()
