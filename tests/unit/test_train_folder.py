"""Training and evaluating on an image folder (the ImageNet layout) with the paper's scale
augmentation, 10-crop and multi-scale testing, at a tiny size."""

import pytest
from PIL import Image

from resnetlab.train import evaluate_checkpoint, fit, load_recipe

COLORS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (40, 40, 210)}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    for split, n in (("train", 8), ("val", 3)):
        for name, rgb in COLORS.items():
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                img = Image.new("RGB", (36 + 4 * i, 30), tuple(max(0, c - 9 * i) for c in rgb))
                img.save(root / split / name / f"{i}.png")
    return root


def config(folder, **kw):
    values = dict(model="resnet8", data="tiny-folder", data_root=str(folder), iters=6,
                  batch_size=6, image_size=16, scale_min=18, scale_max=26, eval_resize=18,
                  test_views="ten-crop", test_scales=[16, 22], workers=0, val_size=3,
                  eval_every=3, checkpoint_every=3, eval_batch_size=4, device="cpu",
                  progress="off", tensorboard=False, threads=1, warmup_iters=2)
    return load_recipe("paper-imagenet", {**values, **kw})


def test_folder_run_and_its_test_views(folder, tmp_path):
    r = fit(config(folder), tmp_path)
    assert r.summary["status"] == "complete" and r.summary["train_images"] == 21
    meta_classes = r.summary["final"]["test_per_class_accuracy"]
    assert list(meta_classes) == ["blue", "green", "red"]
    ten = evaluate_checkpoint(tmp_path, split="test", views="ten-crop", device="cpu")
    assert ten["n"] == 9 and ten["top1_error"] == pytest.approx(r.summary["final"]["test_error"])
    multi = evaluate_checkpoint(tmp_path, split="test", views="multiscale", device="cpu")
    center = evaluate_checkpoint(tmp_path / "best.safetensors", split="val", device="cpu")
    assert multi["n"] == 9 and center["n"] == 3 and center["split"] == "val"


def test_folder_errors(folder, tmp_path):
    with pytest.raises(ValueError, match="unknown data set 'imagenette'"):
        fit(config(folder, data="imagenette", data_root=None), tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="train/<class>/<image>"):
        fit(config(folder, data_root=str(tmp_path)), tmp_path / "b")
    with pytest.raises(ValueError, match="image_size 30 exceeds scale_min 18"):
        config(folder, image_size=30, eval_resize=30)


def test_ranks_draw_folder_batches_through_torchs_distributed_sampler(folder):
    import torch

    from resnetlab.data import scan_folder
    from resnetlab.distributed import DistInfo
    from resnetlab.train.data import data_options
    from resnetlab.train.loaders import make_loader

    ds = scan_folder(folder / "train")  # 24 images; global batch 6 -> 3 per rank
    norm = {"mean": [0.5] * 3, "std": [0.25] * 3}
    opts = data_options(config(folder, flip=False, lighting=0.0))
    loaders = [make_loader(ds, norm, 6, train=True, opts=opts, device=torch.device("cpu"),
                           dist=DistInfo(rank, 2)) for rank in (0, 1)]
    assert all(isinstance(lo.sampler, torch.utils.data.DistributedSampler) for lo in loaders)
    assert [len(lo) for lo in loaders] == [4, 4]
    epoch = [lo._index_batches(1, 0) for lo in loaders]
    seen = [i for batches in epoch for b in batches for i in b]
    assert sorted(seen) == list(range(24)) and all(len(b) == 3 for e in epoch for b in e)
    assert loaders[0]._index_batches(1, 2) == epoch[0][2:]  # resume mid-epoch
    assert loaders[0]._index_batches(2, 0) != epoch[0]  # set_epoch reshuffles
    one = make_loader(ds, norm, 6, train=True, opts=opts, device=torch.device("cpu"),
                      dist=DistInfo())
    assert one.sampler is None
