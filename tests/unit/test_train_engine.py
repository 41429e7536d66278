"""fit(): the run folder it writes, resume and refusal rules, divergence, bad input."""

import json

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import learnable_mnist, tiny_config

from resnetlab.checkpoint import load_model
from resnetlab.train import DivergedError, fit
from resnetlab.train.run_folder import STATE_FILE, load_train_state


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return learnable_mnist(tmp_path_factory.mktemp("mnist"))


@pytest.fixture(scope="module")
def done(root, tmp_path_factory):
    """One finished tiny run (with a validation split), shared by the read-only tests."""
    out = tmp_path_factory.mktemp("run")
    cfg = tiny_config(root, iters=24, val_size=32, lr=0.1)
    return cfg, fit(cfg, out)


def test_run_folder_holds_the_contracts_files(done):
    cfg, r = done
    names = {p.name for p in r.out_dir.iterdir()}
    assert {"model.safetensors", "model.json", "best.safetensors", "best.json", STATE_FILE,
            "config.yaml", "metrics.jsonl", "metrics.csv", "curves.png", "summary.json",
            "report.md"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    s = json.loads((r.out_dir / "summary.json").read_text())
    assert s["status"] == "complete" and s["iters"] == 24 and s == r.summary
    assert s["best"]["val_error"] is not None and 0 <= s["final"]["test_error"] <= 100
    assert set(s["machine"]) >= {"cpu", "cores", "torch_threads", "platform"}
    assert f"- cpu: {s['machine']['cpu']}" in (r.out_dir / "report.md").read_text()
    assert "# resnet8 on mnist" in (r.out_dir / "report.md").read_text()
    assert (r.out_dir / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_metrics_rows_follow_the_contract(done):
    _, r = done
    rows = [json.loads(line) for line in (r.out_dir / "metrics.jsonl").read_text().splitlines()]
    assert rows == r.metrics and rows[-1]["iter"] == 24
    base = {"iter", "epoch", "lr", "train_loss", "train_error", "images_per_second", "wall_time"}
    for row in rows:
        assert base <= set(row) <= base | {"val_error", "test_error", "eval_seconds"}
        assert ("eval_seconds" in row) == ("val_error" in row)
    evals = [row["iter"] for row in rows if "val_error" in row]
    assert evals == [8, 16, 24]  # eval_every=8, and the final evaluation
    assert all(row["eval_seconds"] > 0 for row in rows if "val_error" in row)
    assert [row["iter"] for row in rows if "test_error" in row] == evals
    csv = (r.out_dir / "metrics.csv").read_text().splitlines()
    assert csv[0].startswith("iter,epoch,lr,train_loss,train_error,val_error,test_error")
    assert len(csv) == len(rows) + 1


def test_model_file_is_enough_to_rebuild_the_model(done):
    cfg, r = done
    model, meta = load_model(r.out_dir)
    assert meta["model"] == "resnet8" and meta["dataset"] == "mnist"
    assert meta["overrides"] == {"num_classes": 10, "in_chans": 1}
    assert meta["classes"][0] == "0" and len(meta["classes"]) == 10
    assert len(meta["normalization"]["mean"]) == 1 and meta["input_size"] == [1, 28, 28]
    assert meta["recipe"]["iters"] == 24 and "torch" in meta["versions"]
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    state = load_train_state(r.out_dir / STATE_FILE)  # weights_only=True inside
    assert state["iter"] == 24 and state["rng"]["torch"].dtype == torch.uint8
    assert (state["epoch"], state["batch"]) == (3, 3)  # 7 batches an epoch: 24 = 3 * 7 + 3
    assert {"optimizer", "schedule", "scaler", "ema", "model", "config"} <= set(state)


def test_it_learns(done):
    _, r = done
    assert r.metrics[-1]["train_error"] < r.metrics[0]["train_error"]
    assert r.summary["final"]["test_error"] < 75  # chance is 90%


def test_complete_run_is_returned_not_retrained(done):
    cfg, r = done
    before = (r.out_dir / "model.safetensors").stat().st_mtime_ns
    again = fit(cfg, r.out_dir)
    assert again.summary == r.summary
    assert (r.out_dir / "model.safetensors").stat().st_mtime_ns == before


def test_a_changed_recipe_is_refused_unless_forced(done, tmp_path):
    cfg, r = done
    longer = tiny_config(cfg.data_root, iters=30, val_size=32, lr=0.1)
    with pytest.raises(ValueError, match=r"different recipe \(iters: 24 -> 30\)"):
        fit(longer, r.out_dir)
    with pytest.raises(ValueError, match="already holds a run"):
        fit(cfg, r.out_dir, resume=False)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds no resnetlab run"):
        fit(cfg, tmp_path)


def test_force_without_resume_starts_over(root, tmp_path):
    fit(tiny_config(root, iters=6), tmp_path)
    r = fit(tiny_config(root, iters=4, lr=0.01), tmp_path, resume=False, force=True)
    assert r.summary["iters"] == 4 and [m["iter"] for m in r.metrics][-1] == 4


def test_resume_with_force_continues_under_the_new_length(root, tmp_path):
    from resnetlab.train.schedule import LRSchedule

    fit(tiny_config(root, iters=8), tmp_path)
    cfg = tiny_config(root, iters=12, log_every=1)
    r = fit(cfg, tmp_path, resume=True, force=True)
    assert r.summary["iters"] == 12
    assert [m["iter"] for m in r.metrics if m["iter"] <= 8] == [5, 8]  # kept from the 1st run
    # from the first resumed step on, the lr is the new (longer) schedule's, not the saved one
    assert r.metrics[2]["iter"] == 9 and r.metrics[2]["lr"] == LRSchedule(cfg, 12, depth=8).lr(8)


# issue 22: the augmentation and mixing draws come from the batch's position, EMA warm-up's
# count from the saved EMA: resume stays bitwise with all of them on
MODERN = {"mixup_alpha": 0.2, "cutmix_alpha": 1.0, "augment": "randaugment",
          "randaugment_magnitude_std": 0.5, "random_erase": 0.25, "ema_warmup": True}


@pytest.mark.parametrize("extra", [{}, MODERN], ids=["paper", "mixup-cutmix-randaugment-ema"])
def test_interrupted_run_resumes_mid_epoch_to_bitwise_equal_weights(root, tmp_path,
                                                                    monkeypatch, extra):
    """Stopped at iteration 12 (last checkpoint: 10, mid-epoch 2), re-running into the same
    folder ends with exactly the weights of an uninterrupted run."""
    from resnetlab.train import engine

    def config():
        return tiny_config(root, iters=14, deterministic=True, ema=0.5, **extra)

    full = fit(config(), tmp_path / "a")
    calls = {"n": 0}
    orig = engine.TrainStep.__call__

    def stop_at_12(self, x, y):
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt
        return orig(self, x, y)

    monkeypatch.setattr(engine.TrainStep, "__call__", stop_at_12)
    with pytest.raises(KeyboardInterrupt):
        fit(config(), tmp_path / "b")
    state = load_train_state(tmp_path / "b" / STATE_FILE)
    assert state["iter"] == 10 and state["batch"] == 2
    monkeypatch.setattr(engine.TrainStep, "__call__", orig)
    resumed = fit(config(), tmp_path / "b")
    a = load_file(str(full.out_dir / "model.safetensors"))
    b = load_file(str(resumed.out_dir / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [m["iter"] for m in resumed.metrics] == [m["iter"] for m in full.metrics]
    assert [m["train_loss"] for m in resumed.metrics] == [m["train_loss"] for m in full.metrics]


def test_nan_loss_stops_with_the_iteration_and_keeps_the_last_checkpoint(root, tmp_path,
                                                                          monkeypatch):
    from resnetlab.train import engine

    calls = {"n": 0}
    orig = engine.TrainStep.__call__

    def poisoned(self, x, y):
        calls["n"] += 1
        if calls["n"] == 7:
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("nan"))
        return orig(self, x, y)

    monkeypatch.setattr(engine.TrainStep, "__call__", poisoned)
    with pytest.raises(DivergedError, match="became nan at iteration 7 of 16"):
        fit(tiny_config(root), tmp_path)
    state = load_train_state(tmp_path / STATE_FILE)
    assert state["iter"] == 5
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "diverged"


def test_weights_that_overflow_in_the_last_step_before_a_checkpoint_are_not_saved(
        root, tmp_path, monkeypatch):
    from resnetlab.train import engine

    calls = {"n": 0}
    orig = engine.TrainStep.__call__

    def overflow_after_step_10(self, x, y):
        out = orig(self, x, y)
        calls["n"] += 1
        if calls["n"] == 10:  # the loss of step 10 was finite; its update was not
            with torch.no_grad():
                self.model.fc.weight.fill_(float("inf"))
        return out

    monkeypatch.setattr(engine.TrainStep, "__call__", overflow_after_step_10)
    with pytest.raises(DivergedError, match="the weights became nan at iteration 10 of 16"):
        fit(tiny_config(root), tmp_path)
    assert load_train_state(tmp_path / STATE_FILE)["iter"] == 8  # the epoch end before it


@pytest.mark.parametrize("overrides,match", [
    ({"data": "imagenette", "data_root": None}, "unknown data set .imagenette.: the built-in"),
    ({"model": "resnet21"}, "6n\\+2"),
    ({"model": "resnt20"}, "did you mean"),
])
def test_unknown_data_or_model_is_a_clear_error(root, tmp_path, overrides, match):
    with pytest.raises(ValueError, match=match):
        fit(tiny_config(root, **overrides), tmp_path / "x")
    assert not (tmp_path / "x" / "config.yaml").exists()


def test_weight_decay_exclusions_and_options(root, tmp_path):
    from resnetlab import create_model
    from resnetlab.train.optimizer import param_groups

    model = create_model("resnet8")
    groups = param_groups(model, 5e-4, ["norm", "bias"])
    n_bn = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)
               for p in m.parameters())
    assert groups[1]["weight_decay"] == 0 and sum(p.numel() for p in groups[1]["params"]) == (
        n_bn + model.fc.bias.numel())
    assert len(param_groups(model, 1e-4, [])) == 1
    r = fit(tiny_config(root, iters=6, ema=0.9, grad_clip=1.0, label_smoothing=0.1,
                        wd_exclude=["norm", "bias"]), tmp_path)
    assert r.summary["status"] == "complete"


def test_step_fp16_uses_a_grad_scaler_and_bf16_does_not():
    from resnetlab import create_model
    from resnetlab.train import load_recipe
    from resnetlab.train.devices import auto_threads, resolve_amp
    from resnetlab.train.optimizer import build_optimizer
    from resnetlab.train.step import TrainStep

    cfg = load_recipe("demo")
    cpu = torch.device("cpu")
    for amp, scaled in (("fp16", True), ("bf16", False), ("off", False)):
        model = create_model("resnet8", num_classes=3)
        dtype = resolve_amp(amp, cpu)
        opt = build_optimizer(model, 0.1, cfg.momentum, cfg.weight_decay)
        step = TrainStep(model, opt, cpu, dtype, grad_clip=1.0)
        loss, correct = step(torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 0]))
        assert step.scaler.is_enabled() == scaled and torch.isfinite(loss)
        assert 0 <= int(correct) <= 4
    assert 1 <= auto_threads() <= (__import__("os").cpu_count() or 1)


def test_tensorboard_is_used_when_installed(root, tmp_path, monkeypatch):
    import sys
    import types

    logged = []

    class Writer:
        def __init__(self, logdir):
            self.logdir = logdir

        def add_scalar(self, key, value, step):
            logged.append((key, step))

        def close(self):
            logged.append(("closed", None))

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = Writer
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    fit(tiny_config(root, iters=8, tensorboard=True), tmp_path)
    assert ("train_loss", 5) in logged and ("test_error", 8) in logged
    assert logged[-1] == ("closed", None)


def test_tensorboard_required_but_missing_names_the_extra(root, tmp_path, monkeypatch, capsys):
    import sys

    from resnetlab.cli import main

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    with pytest.raises(ValueError, match=r"pip install 'resnetlab\[tensorboard\]'"):
        fit(tiny_config(root, iters=2, tensorboard=True), tmp_path / "a")
    assert main(["train", "--model", "resnet8", "--data", "mnist", "--data-root", str(root),
                 "--iters", "2", "--device", "cpu", "--progress", "off", "--out",
                 str(tmp_path / "b"), "--set", "tensorboard=true"]) == 2
    assert "resnetlab[tensorboard]" in capsys.readouterr().err


def test_tensorboard_by_default_only_when_installed(root, tmp_path, monkeypatch):
    import sys

    from resnetlab.train import load_recipe

    assert all(load_recipe(r).tensorboard is None for r in ("demo", "paper-cifar"))
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    r = fit(tiny_config(root, iters=2, tensorboard=None), tmp_path)
    assert r.summary["status"] == "complete" and not (tmp_path / "tb").exists()


def test_fit_steps_the_torch_scheduler_users_get(root, tmp_path):
    """One lr path: the metrics' lr is ScheduleLR's on a plain optimizer, and the train state
    carries the scheduler's own state_dict (an older format is refused in one line)."""
    from resnetlab.train import ScheduleLR
    from resnetlab.train.run_folder import save_train_state

    cfg = tiny_config(root, iters=12, warmup="linear", warmup_iters=4, log_every=1,
                      schedule="step", milestones=[6, 9], milestone_unit="iters")
    r = fit(cfg, tmp_path / "run")
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=cfg.lr)
    sched, lrs = ScheduleLR(opt, cfg, 12, depth=8), []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert [m["lr"] for m in r.metrics] == lrs and len(set(lrs)) > 3
    state = load_train_state(tmp_path / "run" / STATE_FILE)
    assert state["schedule"]["last_epoch"] == 12
    save_train_state(tmp_path / "old.pt", {**state, "format": 1})
    with pytest.raises(ValueError, match="format 1; .* start the run over"):
        load_train_state(tmp_path / "old.pt")


def test_drop_path_rate_and_dropout_are_recipe_keys_the_model_file_records(root, tmp_path):
    cfg = tiny_config(root, iters=4, eval_every=4, drop_path_rate=0.2, dropout=0.1)
    r = fit(cfg, tmp_path / "run")
    model, meta = load_model(r.out_dir)
    assert meta["overrides"] == {"num_classes": 10, "in_chans": 1, "drop_path_rate": 0.2,
                                 "dropout": 0.1}
    assert model.drop_path_rate == 0.2 and model.head_drop.p == 0.1
    assert model.blocks()[-1].drop_path.p == pytest.approx(0.2)
    with pytest.raises(ValueError, match="drop_path_rate set twice"):
        tiny_config(root, drop_path_rate=0.1, model_overrides={"drop_path_rate": 0.1})
    with pytest.raises(ValueError, match="drop_path_rate"):
        tiny_config(root, drop_path_rate=1.0)
