"""fit() with your own model and data (tensors, ImageSet, any torch Dataset), clear errors for
wrong shapes, and the recipes' schedule in your own loop (issue 12, section 4)."""

import json

import pytest
import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from resnetlab.data import ImageSet, channel_stats
from resnetlab.train import ScheduleLR, fit, load_recipe, lr_lambda
from resnetlab.train.schedule import LRSchedule

QUICK = {"iters": 3, "batch_size": 8, "eval_batch_size": 16, "device": "cpu", "amp": "off",
         "progress": "off", "warmup_iters": 1, "tensorboard": False, "channels_last": False,
         "model": "resnet8"}


def tensors(n=24, c=1, size=12, classes=3, dtype=torch.uint8, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = (y.view(-1, 1, 1, 1) * 70 + torch.randint(0, 40, (n, c, size, size), generator=g))
    return (x.to(dtype) if dtype == torch.uint8 else x.to(dtype) / 255), y


class TinyNet(nn.Module):
    def __init__(self, c=1, k=3):
        super().__init__()
        self.conv = nn.Conv2d(c, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, k)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean((2, 3)))


def test_own_model_on_uint8_tensors_writes_a_normal_run_folder_and_resumes(tmp_path):
    cfg = load_recipe("demo", QUICK)
    x, y = tensors()
    vx, vy = tensors(n=9, seed=1)
    run = fit(cfg, tmp_path / "run", model=TinyNet(), train_data=(x, y), val_data=(vx, vy))
    assert run.summary["status"] == "complete" and run.summary["model"] == "TinyNet"
    assert run.summary["data"] == "tensors" and "val_error" in run.summary["final"]
    for f in ("model.safetensors", "metrics.jsonl", "report.md", "summary.json", "config.yaml"):
        assert (run.out_dir / f).is_file(), f
    again = fit(cfg, tmp_path / "run", model=TinyNet(), train_data=(x, y), val_data=(vx, vy))
    assert again.summary == run.summary  # complete: returned as is


def test_float_tensors_an_imageset_and_a_dataset_all_train(tmp_path):
    cfg = load_recipe("demo", QUICK)
    fx, fy = tensors(dtype=torch.float32)
    r = fit(cfg, tmp_path / "f", model=TinyNet(), train_data=(fx, fy), test_data=(fx, fy))
    assert "test_error" in r.summary["final"]
    ux, uy = tensors(c=3)
    ds = ImageSet(ux, uy, ["a", "b", "c"], *channel_stats(ux), name="mine")
    r = fit(cfg, tmp_path / "i", train_data=ds, test_data=ds)  # registry model, built for it
    assert r.summary["data"] == "mine" and r.summary["model"] == "resnet8"
    meta = json.loads((r.out_dir / "model.json").read_text())
    assert meta["classes"] == ["a", "b", "c"] and meta["input_size"] == [3, 12, 12]

    class Pairs(torch.utils.data.Dataset):
        classes = ["x", "y", "z"]

        def __len__(self):
            return 24

        def __getitem__(self, i):
            return fx[i], int(fy[i])

    r = fit(cfg, tmp_path / "d", model=TinyNet(), train_data=Pairs(), val_data=Pairs())
    assert r.summary["data"] == "Pairs" and r.summary["final"]["val_error"] is not None


@pytest.mark.parametrize("data, expected", [
    ((torch.zeros(4, 12, 12, dtype=torch.uint8), torch.zeros(4)), "N×C×H×W"),
    ((torch.zeros(4, 1, 12, 12, dtype=torch.int32), torch.zeros(4)), "uint8 or float"),
    ((torch.zeros(4, 1, 8, 8), torch.zeros(3, dtype=torch.int64)), r"shape \(4,\)"),
    ("not/a/folder/at/all", "unknown data set"),
    (42, "an ImageSet, a pair"),
])
def test_wrong_data_gets_a_clear_error_without_the_values(tmp_path, data, expected):
    with pytest.raises(ValueError, match=expected) as err:
        fit(load_recipe("demo", QUICK), tmp_path / "r", model=TinyNet(), train_data=data)
    assert "tensor([" not in str(err.value) and len(str(err.value)) < 400
    assert not (tmp_path / "r").exists()


def test_wrong_model_and_one_class_are_refused(tmp_path):
    x, y = tensors()
    with pytest.raises(ValueError, match="nn.Module or a registry name"):
        fit(load_recipe("demo", QUICK), tmp_path / "r", model=object(), train_data=(x, y))
    with pytest.raises(ValueError, match="one class"):
        fit(load_recipe("demo", QUICK), tmp_path / "r", train_data=(x, torch.zeros(24).long()))


@pytest.mark.parametrize("recipe", ["demo", "paper-cifar"])
def test_the_schedule_in_your_own_loop_matches_fit(recipe):
    cfg = load_recipe(recipe, {"iters": 400, "milestones": [200, 300], "warmup_iters": 50}
                      if recipe == "paper-cifar" else {"iters": 400})
    ref = LRSchedule(cfg, 400, depth=20)
    w = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=cfg.lr)
    lam = LambdaLR(opt, lr_lambda(cfg, 400, depth=20))
    seen = []
    for _ in range(400):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        lam.step()
    assert seen == pytest.approx([ref.lr(i) for i in range(400)])


def test_schedule_lr_has_the_papers_error_ended_warmup():
    cfg = load_recipe("paper-cifar", {"model": "resnet110", "iters": 100, "milestones": [80]})
    assert cfg.warmup == "constant" and cfg.warmup_until_error is not None
    w = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=cfg.lr)
    sched = ScheduleLR(opt, cfg, 100, depth=110)
    lrs = []
    for it in range(30):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.observe_train(90.0 if it < 15 else 10.0)  # error falls below 80% at step 15
        sched.step()
    assert lrs[0] == pytest.approx(cfg.warmup_lr) and lrs[-1] == pytest.approx(cfg.lr)
    state = sched.state_dict()
    again = ScheduleLR(torch.optim.SGD([w], lr=cfg.lr), cfg, 100, depth=110)
    again.load_state_dict(state)
    assert again.get_last_lr() == sched.get_last_lr()


def test_own_model_on_a_folder_gets_the_channels_its_first_conv_takes(tmp_path):
    from test_train_finetune import image_folder

    data = image_folder(tmp_path / "gray")  # 28 px grayscale
    cfg = load_recipe("demo", {**QUICK, "data": str(data), "folder_pipeline": "auto"})
    run = fit(cfg, tmp_path / "run", model=TinyNet(c=3))
    meta = json.loads((run.out_dir / "model.json").read_text())
    assert meta["input_size"] == [3, 28, 28] and run.summary["status"] == "complete"
