"""Exact resume after SIGKILL: a CPU --deterministic run killed at an arbitrary iteration (and
one killed while writing a checkpoint) and resumed ends bitwise equal to an uninterrupted one."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from train_helpers import learnable_mnist, tiny_config  # noqa: E402

from resnetlab.train import fit  # noqa: E402
from resnetlab.train.run_folder import load_train_state  # noqa: E402

# 7 batches an epoch; checkpoints at 3, 6, 7, 9, ...; evaluations (val + test) at 6, 12, 18
CONFIG = dict(iters=20, val_size=32, ema=0.8, deterministic=True, checkpoint_every=3,
              eval_every=6)

SCRIPT = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {unit!r})
    from train_helpers import tiny_config
    from resnetlab.train import engine, fit
    CONFIG = {config!r}
    out, kill_at, where = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    cfg = tiny_config({root!r}, **CONFIG)
    n = {{"steps": 0, "saves": 0}}
    def die():
        os.kill(os.getpid(), signal.SIGKILL)
    if where == "step":
        orig_step = engine.TrainStep.__call__
        def call(self, x, y):
            n["steps"] += 1
            if n["steps"] == kill_at:
                die()
            return orig_step(self, x, y)
        engine.TrainStep.__call__ = call
    elif where == "save":  # train_state.pt goes out in one os.write (resnetlab.io)
        orig_write = os.write
        def write(fd, data):
            if ".train_state.pt." in os.readlink(f"/proc/self/fd/{{fd}}"):
                n["saves"] += 1
                if n["saves"] == kill_at:  # half a file written, then killed
                    orig_write(fd, bytes(data[:len(data) // 2]))
                    die()
            return orig_write(fd, data)
        os.write = write
    fit(cfg, out)
""")


def run(script: Path, out: Path, kill_at: int = 0, where: str = "none") -> int:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(script), str(out), str(kill_at), where],
                          env=env, timeout=300).returncode


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("resume")
    root = learnable_mnist(tmp / "data")
    script = tmp / "run.py"
    script.write_text(SCRIPT.format(unit=str(Path(__file__).parents[1] / "unit"),
                                    root=str(root), config=CONFIG))
    fit(tiny_config(root, **CONFIG), tmp / "reference")  # uninterrupted, in this process
    return script, tmp, load_file(str(tmp / "reference" / "model.safetensors"))


def weights_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_is_bitwise_equal(setup):
    script, tmp, reference = setup
    out = tmp / "killed"
    assert run(script, out, kill_at=11, where="step") == -signal.SIGKILL  # epoch 2, step 4
    assert json.loads((out / "summary.json").read_text())["status"] == "running"
    assert load_train_state(out / "train_state.pt")["iter"] == 9  # mid-epoch 2
    assert run(script, out) == 0
    assert weights_equal(load_file(str(out / "model.safetensors")), reference)
    best = load_file(str(out / "best.safetensors"))
    assert weights_equal(best, load_file(str(tmp / "reference" / "best.safetensors")))


@pytest.mark.slow
def test_sigkill_while_writing_a_checkpoint_keeps_the_previous_one(setup):
    script, tmp, reference = setup
    out = tmp / "killed-in-save"
    assert run(script, out, kill_at=3, where="save") == -signal.SIGKILL
    assert load_train_state(out / "train_state.pt")["iter"] == 6  # the one before the kill
    assert [p.name for p in out.glob(".train_state.pt.*.tmp")]  # the half-written file
    assert run(script, out) == 0
    assert not list(out.glob(".*.tmp"))
    assert weights_equal(load_file(str(out / "model.safetensors")), reference)
