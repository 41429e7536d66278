"""resnetlab's own warnings reach a CLI user as one line, like its errors, not as Python's
"file:line: UserWarning" with a source line; Python callers still get a UserWarning."""

import warnings

import pytest
from train_helpers import learnable_mnist

from resnetlab.cli import main
from resnetlab.io import Notice


def test_a_notice_is_one_line_on_the_cli_and_a_userwarning_in_python(tmp_path, capsys):
    root = learnable_mnist(tmp_path / "mnist", n_train=64, n_test=32)
    argv = ["train", "--model", "resnet8", "--data", "mnist", "--data-root", str(root),
            "--iters", "4", "--batch-size", "32", "--device", "cpu", "--progress", "off",
            "--set", "threads=1", "--set", "schedule=constant"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if "never decays" in x]
    assert len(lines) == 1 and lines[0].startswith("resnetlab train: warning: the lr never")
    assert "UserWarning" not in err and "warnings.warn" not in err
    assert issubclass(Notice, UserWarning)
    # outside main the hook is gone: a Python caller's warning machinery is untouched
    with pytest.warns(Notice):
        warnings.warn("x", Notice, stacklevel=1)
