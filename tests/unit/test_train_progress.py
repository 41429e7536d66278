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
