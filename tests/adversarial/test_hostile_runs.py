"""Hostile training runs (issue 13, items 1, 3, 4, 5, 6, 8 and the write errors): diverging
weights, kills at the worst moments, a full disk, a read-only folder. Nothing is lost, the
last good checkpoint is good, a run folder never claims more than it holds.

Kills are simulated by raising KeyboardInterrupt from a monkeypatched function at the chosen
point; a full disk by an os.write that fails with ENOSPC (every file resnetlab writes goes
through resnetlab.io, which writes with os.write); a read-only folder by a mkstemp that fails
with EACCES (tests run as root, where chmod does not stop writes).
"""

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from train_helpers import learnable_mnist, tiny_config

from resnetlab.cli import main as cli_main
from resnetlab.train import DivergedError, fit, run_folder, run_report
from resnetlab.train import devices as devices_mod
from resnetlab.train import engine as engine_mod
from resnetlab.train.run_folder import STATE_FILE, load_train_state


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return learnable_mnist(tmp_path_factory.mktemp("mnist"))


@pytest.fixture(scope="module")
def done(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return fit(tiny_config(root, iters=8, val_size=32), out)


def after_step(monkeypatch, n, action):
    """Run action(step) right after the n-th call of the training step."""
    orig, calls = engine_mod.TrainStep.__call__, {"n": 0}

    def patched(self, x, y):
        out = orig(self, x, y)
        calls["n"] += 1
        if calls["n"] == n:
            action(self)
        return out

    monkeypatch.setattr(engine_mod.TrainStep, "__call__", patched)
    return orig


def interrupt(_step):
    raise KeyboardInterrupt


def no_training(monkeypatch):
    def refuse(self, x, y):
        raise AssertionError("trained although the run was complete")
    monkeypatch.setattr(engine_mod.TrainStep, "__call__", refuse)


# -- 1. the last good checkpoint is good ---------------------------------------------------
def test_a_non_finite_buffer_never_replaces_the_last_good_checkpoint(root, tmp_path,
                                                                    monkeypatch):
    """BN running variances that overflow while the loss stays finite (the training forward
    uses batch statistics): before, the checkpoint of iteration 10 was written with inf in
    them over the good one of iteration 8."""
    def poison(step):
        with torch.no_grad():
            step.model.bn1.running_var.fill_(float("inf"))

    after_step(monkeypatch, 9, poison)
    with pytest.raises(DivergedError, match=r"at iteration 10 of 16 .*model bn1\.running_var.*"
                       r"is kept \(iteration 8\)"):
        fit(tiny_config(root), tmp_path)
    state = load_train_state(tmp_path / STATE_FILE)
    assert state["iter"] == 8
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    model = load_file(str(tmp_path / "model.safetensors"))
    assert all(torch.isfinite(v).all() for v in model.values())
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "diverged"
    monkeypatch.undo()  # the same command again continues from the good iteration 8
    r = fit(tiny_config(root), tmp_path)
    assert r.summary["status"] == "complete" and r.summary["iters"] == 16


def broken_copy(done, tmp_path, name="layer1.0.bn1.running_var", value=float("inf")):
    src = done.out_dir / "model.safetensors"
    state = load_file(str(src))
    state[name] = torch.full_like(state[name], value)
    dst = tmp_path / "model.safetensors"
    from safetensors import safe_open
    with safe_open(str(src), framework="pt") as f:
        header = f.metadata()
    save_file(state, str(dst), metadata=header)
    shutil.copy(done.out_dir / "model.json", tmp_path / "model.json")
    return dst


@pytest.mark.parametrize("verb", ["predict", "evaluate", "export"])
def test_non_finite_weights_are_refused_by_name(done, tmp_path, capsys, verb):
    weights = broken_copy(done, tmp_path)
    image = tmp_path / "x.png"
    from PIL import Image
    Image.new("L", (28, 28), 100).save(image)
    argv = {"predict": ["predict", str(weights), str(image)],
            "evaluate": ["evaluate", str(weights), "--device", "cpu"],
            "export": ["export", str(weights), "--format", "torchscript",
                       "--out", str(tmp_path / "m.pt")]}[verb]
    rc = cli_main(argv)
    err = capsys.readouterr().err
    assert rc != 0 and "layer1.0.bn1.running_var" in err and "not finite" in err, err


def test_predict_on_weights_that_give_nan_exits_non_zero(done, tmp_path, capsys):
    weights = broken_copy(done, tmp_path, "fc.weight", 3e38)  # finite, the logits are not
    image = tmp_path / "x.png"
    from PIL import Image
    Image.new("L", (28, 28), 100).save(image)
    rc = cli_main(["predict", str(weights), str(image)])
    out, err = capsys.readouterr()
    assert rc != 0 and "nan" not in out.lower() and "not finite" in err, (out, err)


def test_a_loss_that_explodes_while_finite_is_flagged(root, tmp_path, monkeypatch):
    orig, calls = engine_mod.TrainStep.__call__, []

    def exploding(self, x, y):  # the loss of steps 9.. reported 10^4 times larger
        loss, correct = orig(self, x, y)
        calls.append(1)
        return (loss * 1e4 if len(calls) > 8 else loss), correct

    monkeypatch.setattr(engine_mod.TrainStep, "__call__", exploding)
    r = fit(tiny_config(root, log_every=2), tmp_path)
    flag = r.summary["loss_exploded"]
    assert flag and flag["iter"] > 8 and flag["train_loss"] > 100 * flag["early_loss"]
    report = (tmp_path / "report.md").read_text()
    assert "loss exploded" in report
    from resnetlab.cli.train import format_result
    assert "warning: the training loss exploded" in format_result(r)


def test_a_healthy_run_is_not_flagged(done):
    assert done.summary["loss_exploded"] is None
    assert "loss exploded" not in (done.out_dir / "report.md").read_text()


# -- 3. an interrupted extension never lies ------------------------------------------------
def test_a_killed_extension_is_seen_unfinished_and_trains_next_time(root, tmp_path,
                                                                    monkeypatch):
    fit(tiny_config(root, iters=4), tmp_path)
    orig = after_step(monkeypatch, 1, interrupt)  # step 5, before any checkpoint of it
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_config(root, iters=8), tmp_path, resume=True, force=True)
    assert json.loads((tmp_path / "summary.json").read_text())["status"] != "complete"
    monkeypatch.setattr(engine_mod.TrainStep, "__call__", orig)
    r = fit(tiny_config(root, iters=8), tmp_path)  # no --force: the config is already 8
    assert r.summary["status"] == "complete" and r.summary["iters"] == 8
    assert load_train_state(tmp_path / STATE_FILE)["iter"] == 8


# -- 4. the report cannot be lost ----------------------------------------------------------
def test_a_kill_while_the_report_is_written_leaves_the_run_unfinished(root, tmp_path,
                                                                     monkeypatch):
    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_report, "format_report", killed)
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_config(root, iters=4), tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text())["status"] != "complete"
    monkeypatch.undo()
    r = fit(tiny_config(root, iters=4), tmp_path)
    assert r.summary["status"] == "complete" and (tmp_path / "report.md").is_file()
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_complete_run_rewrites_missing_artefacts_without_training(root, tmp_path,
                                                                    monkeypatch):
    fit(tiny_config(root, iters=4), tmp_path)
    before = (tmp_path / "report.md").read_text()
    for name in ("report.md", "curves.png", "metrics.csv"):
        (tmp_path / name).unlink()
    no_training(monkeypatch)
    fit(tiny_config(root, iters=4), tmp_path)
    for name in ("report.md", "curves.png", "metrics.csv"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "report.md").read_text() == before


# -- 5. metrics rows cannot be lost --------------------------------------------------------
def test_metrics_up_to_the_state_are_on_disk_before_the_state(root, tmp_path, monkeypatch):
    seen = []
    orig = run_folder.save_train_state

    def checked(path, state):
        rows = run_folder.read_metrics(Path(path).parent)
        seen.append((state["iter"], rows[-1]["iter"] if rows else 0))
        return orig(path, state)

    monkeypatch.setattr(run_folder, "save_train_state", checked)
    fit(tiny_config(root), tmp_path)
    assert seen and all(on_disk >= it for it, on_disk in seen), seen


def test_a_kill_right_after_the_state_save_leaves_no_gap_in_the_metrics(root, tmp_path,
                                                                        monkeypatch):
    full = fit(tiny_config(root), tmp_path / "a")
    orig = run_folder.save_train_state

    def killed_after(path, state):
        orig(path, state)
        if state["iter"] == 10:
            raise KeyboardInterrupt

    monkeypatch.setattr(run_folder, "save_train_state", killed_after)
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_config(root), tmp_path / "b")
    monkeypatch.undo()
    resumed = fit(tiny_config(root), tmp_path / "b")
    assert [m["iter"] for m in resumed.metrics] == [m["iter"] for m in full.metrics]


# -- 6. --deterministic is repeatable ------------------------------------------------------
def test_two_fresh_deterministic_runs_are_bitwise_equal_whatever_the_load(root, tmp_path,
                                                                         monkeypatch):
    """threads=0 used to take the idle cores at start (1 or 2 on a shared machine)."""
    counts = iter([1, 2])
    monkeypatch.setattr(devices_mod, "auto_threads", lambda: next(counts))
    a = fit(tiny_config(root, iters=6, threads=0, deterministic=True), tmp_path / "a")
    b = fit(tiny_config(root, iters=6, threads=0, deterministic=True), tmp_path / "b")
    wa = load_file(str(tmp_path / "a" / "model.safetensors"))
    wb = load_file(str(tmp_path / "b" / "model.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert [m["train_loss"] for m in a.metrics] == [m["train_loss"] for m in b.metrics]
    assert a.summary["threads"] == b.summary["threads"] == 1


# -- 7. writes that fail -------------------------------------------------------------------
def full_disk_on(monkeypatch, name):
    """os.write fails with ENOSPC on the (temporary) file whose name holds `name`."""
    orig = os.write

    def write(fd, data):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if name in Path(target).name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return orig(fd, data)

    monkeypatch.setattr(os, "write", write)


def test_a_full_disk_during_training_names_the_file(root, tmp_path, monkeypatch, capsys):
    full_disk_on(monkeypatch, STATE_FILE)
    rc = cli_main(["train", "--model", "resnet8", "--data", "mnist", "--data-root", str(root),
                   "--iters", "6", "--batch-size", "32", "--device", "cpu", "--progress",
                   "off", "--set", "threads=1", "--set", "tensorboard=false", "--set",
                   "warmup_iters=2", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and f"the disk is full while writing {tmp_path / 'run' / STATE_FILE}" in err
    assert "Traceback" not in err
    assert not list((tmp_path / "run").glob(".*.tmp"))


def test_a_read_only_output_folder_is_refused_before_training(root, tmp_path, monkeypatch,
                                                              capsys):
    def read_only(*a, **k):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    no_training(monkeypatch)
    rc = cli_main(["train", "--model", "resnet8", "--data", "mnist", "--data-root", str(root),
                   "--iters", "4", "--device", "cpu", "--progress", "off",
                   "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot write" in err and "--out" in err, err


def test_evaluate_checks_its_output_before_computing(done, tmp_path, monkeypatch, capsys):
    from resnetlab.cli import evaluate as evaluate_cli

    def read_only(*a, **k):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    def never(*a, **k):
        raise AssertionError("evaluated before checking the output")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    monkeypatch.setattr(evaluate_cli, "evaluate_checkpoint", never)
    rc = cli_main(["evaluate", str(done.out_dir), "--out", str(tmp_path / "ro")])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot write" in err and "--out" in err, err


# -- 8. reporting --------------------------------------------------------------------------
def test_summary_records_how_many_images_were_evaluated(done):
    final = done.summary["final"]
    assert final["test_images"] == 64 and final["val_images"] == 32


def test_unreadable_training_images_are_listed_in_summary_and_report(tmp_path):
    from hostile_inputs import write_image
    data = tmp_path / "data"
    for split in ("train", "val"):
        for c in ("cat", "dog"):
            for i in range(4):
                write_image(data / split / c / f"{i}.png", 30 * i + (c == "dog") * 100)
    bad = data / "train" / "cat" / "broken.png"
    bad.write_bytes(b"not a png")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit(tiny_config(None, data=str(data), data_root=None, model="resnet8",
                            iters=4, batch_size=3, image_size=8, scale_min=9, scale_max=10,
                            eval_resize=9, workers=0, val_size=0, normalize="none",
                            warmup="none", warmup_iters=0, checkpoint_every=0, eval_every=0),
                tmp_path / "run")
    assert str(bad) in r.summary["skipped_images"]
    assert str(bad) in (tmp_path / "run" / "report.md").read_text()


def test_non_finite_weights_never_become_the_best_checkpoint(root, tmp_path, monkeypatch):
    """The first validation (iteration 8) always makes a best.safetensors: it must not be
    written from weights whose BN buffers overflowed in the step before."""
    def poison(step):
        with torch.no_grad():
            step.model.bn1.running_var.fill_(float("inf"))

    after_step(monkeypatch, 8, poison)
    with pytest.raises(DivergedError, match="model bn1.running_var"):
        fit(tiny_config(root, val_size=32), tmp_path)
    best = tmp_path / "best.safetensors"
    assert not best.exists() or all(torch.isfinite(v).all()
                                    for v in load_file(str(best)).values())
    assert json.loads((tmp_path / "summary.json").read_text())["best"] is None


# -- the same kills as SIGKILL: no except/finally block of the run gets to run -------------
_KILLED_CHILD = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from train_helpers import tiny_config
from resnetlab.train import engine, fit, run_folder, run_report
root, out, point, iters = Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], int(sys.argv[5])

def die(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)

if point == "step":
    engine.TrainStep.__call__ = die
elif point == "report":
    run_report.format_report = die
elif point == "state":
    save = run_folder.save_train_state
    def save_then_die(path, state):
        save(path, state)
        if state["iter"] == 10:
            die()
    run_folder.save_train_state = save_then_die
fit(tiny_config(root, iters=iters), out, resume=True, force=True)
"""


def sigkill_fit(root, out, point, iters):
    import subprocess
    import sys
    env = {**os.environ, "PYTHONPATH": str(Path(run_folder.__file__).parents[2]),
           "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-c", _KILLED_CHILD,
                        str(Path(__file__).resolve().parents[1] / "unit"), str(root), str(out),
                        point, str(iters)], env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == -9, p.stderr[-2000:]


def test_sigkill_during_an_extension_then_the_same_command_trains(root, tmp_path):
    fit(tiny_config(root, iters=4), tmp_path)
    sigkill_fit(root, tmp_path, "step", 8)  # killed at its first step, config.yaml at 8
    r = fit(tiny_config(root, iters=8), tmp_path)
    assert r.summary["status"] == "complete" and r.summary["iters"] == 8


def test_sigkill_while_the_report_is_written_then_a_rerun_writes_it(root, tmp_path):
    sigkill_fit(root, tmp_path, "report", 4)
    assert json.loads((tmp_path / "summary.json").read_text())["status"] != "complete"
    r = fit(tiny_config(root, iters=4), tmp_path)
    assert r.summary["status"] == "complete" and (tmp_path / "report.md").is_file()


def test_sigkill_right_after_the_state_save_leaves_no_gap(root, tmp_path):
    full = fit(tiny_config(root), tmp_path / "a")
    sigkill_fit(root, tmp_path / "b", "state", 16)
    resumed = fit(tiny_config(root), tmp_path / "b")
    assert [m["iter"] for m in resumed.metrics] == [m["iter"] for m in full.metrics]


def test_a_complete_run_in_a_read_only_folder_is_returned_as_it_is(root, tmp_path,
                                                                   monkeypatch):
    fit(tiny_config(root, iters=4), tmp_path)
    (tmp_path / ".report.md.abc.tmp").write_text("left by a kill")

    def read_only(self, missing_ok=False):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "unlink", read_only)
    no_training(monkeypatch)
    assert fit(tiny_config(root, iters=4), tmp_path).summary["status"] == "complete"


def test_another_ranks_write_check_is_not_a_foreign_file(root, tmp_path):
    """Under DDP, rank 0's write check (a hidden .tmp file) can be in the folder while rank 1
    looks at it: that is resnetlab's own temporary, not somebody else's file."""
    from resnetlab.train.run_folder import check_out_dir

    out = tmp_path / "ddp"
    out.mkdir()
    (out / ".resnetlab-write-check.abc123.tmp").write_text("")
    assert check_out_dir(out, tiny_config(root, iters=4), resume=True, force=False) == "fresh"
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds no resnetlab run"):
        check_out_dir(out, tiny_config(root, iters=4), resume=True, force=False)
