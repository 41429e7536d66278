"""fit() with the issue-22 keys: accumulation over k slices equals one batch; early stopping
stops; top-k keeps k; the other optimisers, BCE and the policies train (resume with mixing,
RandAugment and EMA on: test_train_engine.py)."""

import json

import pytest
import torch
from train_helpers import learnable_mnist, tiny_config

from resnetlab.train import fit
from resnetlab.train.optimizer import build_optimizer
from resnetlab.train.step import TrainStep


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return learnable_mnist(tmp_path_factory.mktemp("mnist"))


def test_accumulating_k_slices_equals_one_batch():
    """Without BatchNorm (whose statistics are per slice) the update is the same."""
    torch.manual_seed(0)
    x, y = torch.randn(16, 3, 6, 6), torch.randint(0, 4, (16,))
    weights = []
    for k in (1, 4):
        torch.manual_seed(1)
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(),
                                  torch.nn.Flatten(), torch.nn.Linear(8 * 16, 4))
        opt = build_optimizer(net, 0.5, 0.9, 1e-3, name="sgd")
        step = TrainStep(net, opt, torch.device("cpu"), None, accumulate=k)
        for _ in range(3):
            loss, correct = step(x, y)
        weights.append([p.detach().clone() for p in net.parameters()])
    for a, b in zip(*weights):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="accumulate=4 does not divide this process's batch"):
        step(x[:6], y[:6])


def test_early_stopping_stops_and_says_where(root, tmp_path):
    cfg = tiny_config(root, iters=16, val_size=32, eval_every=2, early_stop_patience=2,
                      early_stop_delta=100.0)  # no later gain reaches 100 points
    r = fit(cfg, tmp_path)  # evaluation 1 (iter 2) sets the best; 2 and 3 fail: stop at 6
    assert r.summary["stopped_early_at"] == 6 and r.summary["iters"] == 6
    assert r.summary["status"] == "complete" and r.summary["final"]["test_error"] is not None


def test_top_k_keeps_the_k_lowest_validation_errors(root, tmp_path):
    r = fit(tiny_config(root, iters=16, val_size=32, eval_every=2, keep_top_k=2), tmp_path)
    kept = sorted(p.name for p in tmp_path.glob("best-*.safetensors"))
    assert len(kept) == 2 and len(list(tmp_path.glob("best-*.json"))) == 2
    evals = sorted((m["val_error"], m["iter"]) for m in r.metrics if "val_error" in m)
    evals.append((r.summary["final"]["val_error"], 16))
    best = sorted(evals)[:2]
    assert kept == sorted(f"best-{it:08d}.safetensors" for _, it in best)
    meta = json.loads((tmp_path / kept[0].replace(".safetensors", ".json")).read_text())
    assert meta["model"] == "resnet8"


@pytest.mark.parametrize("overrides", [
    {"optimizer": "lamb", "lr": 0.01, "weight_decay": 0.02, "loss": "bce",
     "bce_target_threshold": 0.2, "mixup_alpha": 0.1, "cutmix_alpha": 1.0,
     "nesterov": False, "wd_exclude": ["norm", "bias"], "accumulate": 2},
    {"optimizer": "lars", "lr": 1.0, "nesterov": False, "augment": "trivialaugment"},
    {"optimizer": "adamw", "lr": 0.003, "nesterov": False, "augment": "autoaugment-cifar10",
     "color_jitter": 0.4, "label_smoothing": 0.1, "cutmix_alpha": 1.0},
])
def test_the_other_optimisers_losses_and_policies_train(root, tmp_path, overrides):
    r = fit(tiny_config(root, iters=8, **overrides), tmp_path)
    losses = [m["train_loss"] for m in r.metrics]
    assert r.summary["status"] == "complete" and all(map(lambda v: v == v, losses))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A tiny ImageNet-layout folder: 3 colour classes, train/ and val/."""
    from PIL import Image

    root = tmp_path_factory.mktemp("imgs")
    for split, n in (("train", 4), ("val", 2)):
        for c, rgb in enumerate(((220, 30, 30), (30, 200, 40), (40, 40, 210))):
            (root / split / f"c{c}").mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (40 + 4 * i, 36), rgb).save(root / split / f"c{c}" / f"{i}.png")
    return root


@pytest.mark.slow  # a ResNet-50 each: 10-15 s on the shared 2-core machine
@pytest.mark.parametrize("recipe", ["bag-of-tricks", "rsb-a3", "tv-v2"])
def test_imagenet_recipes_run_two_iterations_on_a_tiny_folder(folder, tmp_path, recipe):
    """The recipe's model, optimiser, loss, mixing and policy as shipped; only the sizes, the
    batch and the length shrink to fit a 12-image folder."""
    from resnetlab.train import load_recipe

    cfg = load_recipe(recipe, dict(
        data="tiny", data_root=str(folder), iters=2, batch_size=4, image_size=32, eval_size=32,
        eval_resize=36, val_size=3, warmup_iters=1, workers=0, eval_batch_size=4,
        checkpoint_every=2, log_every=1, device="cpu", progress="off", tensorboard=False,
        threads=1))
    r = fit(cfg, tmp_path)
    assert r.summary["status"] == "complete" and r.summary["iters"] == 2
    assert r.summary["recipe"] == recipe and r.summary["model"] == "resnet50"


def test_modern_cifar_runs_two_iterations(root, tmp_path):
    from resnetlab.train import load_recipe

    cfg = load_recipe("modern-cifar", dict(
        data="mnist", data_root=str(root), iters=2, batch_size=32, val_size=32, warmup_iters=1,
        eval_batch_size=64, checkpoint_every=2, log_every=1, device="cpu", progress="off",
        tensorboard=False, threads=1))
    assert fit(cfg, tmp_path).summary["status"] == "complete"


def test_folder_crop_keys_reach_the_loader(folder):
    """crop=rrc with rrc_scale / rrc_ratio builds RandomResizedCrop with them; eval_size sets
    the evaluation crop; augment reaches the folder loader."""
    from resnetlab.data import scan_folder
    from resnetlab.data.pipeline.image_transforms import CenterCrop, RandomResizedCrop
    from resnetlab.distributed import DistInfo
    from resnetlab.train import load_recipe
    from resnetlab.train.data import data_options
    from resnetlab.train.loaders import make_loader

    cfg = load_recipe("tv-v2", dict(data_root=str(folder), image_size=32, eval_size=40,
                                    eval_resize=48, rrc_scale=[0.25, 0.5], rrc_ratio=[0.5, 2.0],
                                    workers=0))
    opts, ds = data_options(cfg), scan_folder(folder / "train")
    norm = {"mean": [0.5] * 3, "std": [0.25] * 3}
    kw = dict(opts=opts, device=torch.device("cpu"), dist=DistInfo())
    train = make_loader(ds, norm, 4, train=True, **kw)
    crop = train.dataset.transform
    assert isinstance(crop, RandomResizedCrop)
    assert (crop.size, crop.scale, crop.ratio) == (32, (0.25, 0.5), (0.5, 2.0))
    assert train.augment is not None
    val = make_loader(ds, norm, 4, train=False, **kw).dataset.transform
    assert isinstance(val, CenterCrop) and (val.size, val.resize) == (40, 48)
