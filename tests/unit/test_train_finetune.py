"""Fine-tuning (train --init / --freeze / the finetune recipe) and image folders whose pipeline
is chosen from their images (issue 12, sections 1 and 3)."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from test_train_own_pieces import TinyNet, tensors
from weightfiles import cached_entry, isolated  # noqa: F401 (autouse fixture)

from resnetlab.checkpoint import load_model, read_meta
from resnetlab.cli import main
from resnetlab.data.pipeline.folder_loader import worker_count
from resnetlab.train import fit, load_recipe
from resnetlab.train.data import data_options, load_splits
from resnetlab.train.finetune import freeze_stages
from resnetlab.weights import cache_path


def image_folder(root, splits=(("train", 6), ("val", 3)), classes=("ant", "bee", "cat"),
                 size=28, mode="L", seed=0):
    """root/<split>/<class>/<i>.png: class c is brightness 60 + 60c plus noise."""
    rng = np.random.default_rng(seed)
    for split, n in splits:
        for c, name in enumerate(classes):
            d = root / split / name
            d.mkdir(parents=True)
            for i in range(n):
                shape = (size, size) if mode == "L" else (size, size, 3)
                px = np.clip(60 + 60 * c + rng.normal(0, 20, shape), 0, 255).astype(np.uint8)
                Image.fromarray(px, mode).save(d / f"{i}.png")
    return root


def cfg(data, **kw):
    base = {"data": str(data), "model": "resnet8", "iters": 2, "batch_size": 6,
            "eval_batch_size": 8, "device": "cpu", "amp": "off", "progress": "off",
            "folder_pipeline": "auto", "warmup_iters": 1, "channels_last": False,
            "tensorboard": False}
    base.update(kw)
    return load_recipe("demo", base)


def test_init_cifar10_resnet20_on_a_folder_end_to_end(fixtures_dir, tmp_path, capsys):
    """The issue's command, from Idelbayev's file placed in the weights cache: a 3-class
    folder of 28 px gray images gets a new classifier, the weights' 32 px RGB input and
    CIFAR-10 normalisation, and a report listing loaded and new tensors."""
    dest = cache_path("cifar10-resnet20")
    dest.parent.mkdir(parents=True)
    shutil.copy(fixtures_dir / "cifar10-reference" / dest.name, dest)
    data = image_folder(tmp_path / "pets")
    out = tmp_path / "run"
    assert main(["train", "--init", "cifar10-resnet20", "--data", str(data), "--iters", "2",
                 "--batch-size", "6", "--device", "cpu", "--out", str(out),
                 "--progress", "lines", "--set", "tensorboard=false"]) == 0
    captured = capsys.readouterr()
    assert "new (freshly initialised): fc.weight, fc.bias (10 -> 3 classes)" in captured.err
    assert "validation error" in captured.out and "top-5" not in captured.out
    report = (out / "report.md").read_text()
    assert "## Init weights" in report and "loaded 1" in report  # "loaded 1xx tensors"
    assert "fc.weight, fc.bias" in report and "## Data" in report
    assert "the init weights' input size" in report
    meta = read_meta(out / "model.safetensors")
    assert meta["model"] == "resnet20" and meta["input_size"] == [3, 32, 32]
    assert meta["classes"] == ["ant", "bee", "cat"]
    assert meta["normalization"]["mean"] == pytest.approx([0.485, 0.456, 0.406])  # his own
    summary = json.loads((out / "summary.json").read_text())
    assert summary["recipe"] == "finetune" and summary["init"]["new"] == ["fc.weight",
                                                                          "fc.bias"]
    assert "test_error" not in summary["final"] and "val_error" in summary["final"]
    assert "val_top5_error" not in summary["final"]  # 3 classes: top-5 means nothing
    model, _ = load_model(out)
    assert model.fc.out_features == 3
    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "val", "--device", "cpu", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 9 and result["top1_error"] == pytest.approx(
        summary["final"]["val_error"])
    assert main(["evaluate", str(out), "--split", "train", "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 18


def test_evaluate_of_a_train_val_folder_run_reports_val(tmp_path, capsys):
    """The default split (test) of a folder without test/ is its val/, named val."""
    data = image_folder(tmp_path / "d", mode="RGB", size=16)
    run = fit(cfg(data, folder_pipeline="large", image_size=16, scale_min=16, scale_max=20,
                  eval_resize=18), tmp_path / "run")
    capsys.readouterr()
    assert main(["evaluate", str(run.out_dir), "--device", "cpu", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "val" and result["n"] == 9
    assert result["top1_error"] == pytest.approx(run.summary["final"]["val_error"])


@pytest.fixture
def r8_cached(tmp_path, monkeypatch):
    return cached_entry(tmp_path, monkeypatch)[0].name


def test_freeze_keeps_stem_and_stages_fixed_and_bn_in_eval(tmp_path, r8_cached):
    data = image_folder(tmp_path / "d", mode="RGB", size=32)
    run = fit(cfg(data, init=r8_cached, freeze=2, model="auto", lr=0.5), tmp_path / "run")
    from resnetlab.weights import load_pretrained

    ref, _ = load_pretrained("resnet8", r8_cached)
    after, _ = load_model(run.out_dir)
    sd_ref, sd = ref.state_dict(), after.state_dict()
    for k in sd:
        if k.startswith(("conv1.", "bn1.", "layer1.", "layer2.")):
            assert torch.equal(sd[k], sd_ref[k]), k  # weights and BN running stats unchanged
    assert not torch.equal(sd["layer3.0.conv1.weight"], sd_ref["layer3.0.conv1.weight"])
    assert run.summary["init"]["frozen"] == ["conv1", "bn1", "layer1", "layer2"]
    assert "Frozen" in (run.out_dir / "report.md").read_text()


def test_freeze_beyond_the_stages_and_other_architectures_are_refused(tmp_path, r8_cached):
    data = image_folder(tmp_path / "d")
    with pytest.raises(ValueError, match="freeze=4 exceeds the 3 stages"):
        fit(cfg(data, init=r8_cached, freeze=4, model="auto"), tmp_path / "a")
    with pytest.raises(ValueError, match="first mismatching tensor layer1.1"):
        fit(cfg(data, init=r8_cached, model="resnet14"), tmp_path / "b")
    assert not (tmp_path / "a" / "model.safetensors").exists()
    model = torch.nn.Sequential()
    assert freeze_stages(model, 0) == []


def test_init_from_a_run_folder_keeps_the_classifier(tmp_path):
    data = image_folder(tmp_path / "d")
    first = fit(cfg(data), tmp_path / "first")
    second = fit(cfg(data, init=str(first.out_dir), model="auto", folder_pipeline="auto"),
                 tmp_path / "second")
    assert second.summary["init"]["new"] == [] and second.summary["init"]["loaded"] > 10


def splits_of(config):
    return load_splits(data_options(config))


def test_folder_splits_are_named_for_what_they_are(tmp_path):
    both = image_folder(tmp_path / "both")
    s = splits_of(cfg(both))
    assert s.test is None and len(s.val) == 9 and s.input_size == [1, 28, 28]
    three = image_folder(tmp_path / "three", splits=(("train", 6), ("val", 2), ("test", 3)))
    s = splits_of(cfg(three))
    assert len(s.val) == 6 and len(s.test) == 9
    only = image_folder(tmp_path / "only", splits=(("train", 10),))
    s = splits_of(cfg(only))
    assert s.test is None and len(s.val) == 3 and len(s.train) == 27  # stratified 10%
    assert sorted(s.val.labels.tolist()) == [0, 1, 2]
    s = splits_of(cfg(only, val_size=6))
    assert len(s.val) == 6 and s.val.class_counts() == [2, 2, 2]
    assert any("held out" in n for n in splits_of(cfg(only)).notes)


def test_folder_pipeline_is_chosen_from_the_images_and_overridable(tmp_path):
    small = image_folder(tmp_path / "small", mode="RGB", size=20)
    s = splits_of(cfg(small))
    assert s.input_size == [3, 20, 20] and s.normalization.channels == 3
    assert any("pipeline small" in n for n in s.notes)
    assert splits_of(cfg(small, channels=1)).input_size == [1, 20, 20]
    large = image_folder(tmp_path / "large", mode="RGB", size=80, splits=(("train", 2),
                                                                          ("val", 1)))
    s = splits_of(cfg(large, image_size=64))
    assert s.folder and s.input_size == [3, 64, 64]
    assert any("pipeline large" in n for n in s.notes)
    assert s.normalization.mean != (0.485, 0.456, 0.406)  # computed, not ImageNet's
    s = splits_of(cfg(large, folder_pipeline="imagenet"))
    assert s.normalization.mean == pytest.approx((0.485, 0.456, 0.406))
    s = splits_of(cfg(small, folder_pipeline="large", image_size=16))
    assert s.folder and s.input_size == [3, 16, 16]


def test_a_folder_with_one_class_is_refused(tmp_path):
    one = image_folder(tmp_path / "one", classes=("only",))
    with pytest.raises(ValueError, match="one class folder"):
        splits_of(cfg(one))


def test_cli_picks_the_chosen_pipeline_for_folders_and_data_help(tmp_path, capsys):
    data = image_folder(tmp_path / "d")
    out = tmp_path / "run"
    assert main(["train", "--model", "resnet8", "--data", str(data), "--iters", "1",
                 "--batch-size", "6", "--device", "cpu", "--out", str(out), "--progress",
                 "off", "--set", "tensorboard=false"]) == 0
    assert read_meta(out / "model.safetensors")["input_size"] == [1, 28, 28]
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "any folder of class folders" in " ".join(capsys.readouterr().out.split())


def test_worker_count_follows_the_cores_without_torch_warnings(tmp_path):
    import os
    import warnings

    from resnetlab.data import FolderLoader

    assert worker_count(64) == len(os.sched_getaffinity(0))
    assert worker_count(0) == 0
    data = image_folder(tmp_path / "d", splits=(("train", 2),))
    loader = FolderLoader(data / "train", 6, train=True, size=16, workers=64,
                          transform=lambda img, rng: torch.zeros(3, 16, 16, dtype=torch.uint8))
    assert loader.workers == worker_count(64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "suggested max number of worker" warning
        assert sum(len(y) for _, y in loader.epoch_batches(0)) == 6


def test_the_init_weights_input_size_decides_when_fine_tuning():
    from resnetlab.data.pipeline.auto import ImageStats, choose_pipeline

    big = ImageStats(2, [(80, 80), (90, 70)], gray=0)
    c = choose_pipeline(big, "auto", init_size=[3, 32, 32])
    assert (c.kind, c.size, c.channels) == ("small", (32, 32), 3)
    small_gray = ImageStats(2, [(28, 28)] * 2, gray=2)
    c = choose_pipeline(small_gray, "auto", image_size=224, init_size=[3, 224, 224])
    assert (c.kind, c.size, c.channels) == ("large", (224, 224), 3)
    c = choose_pipeline(small_gray, "auto")
    assert (c.kind, c.size, c.channels) == ("small", (28, 28), 1)
    assert choose_pipeline(small_gray, "small", channels=3).channels == 3


@pytest.mark.parametrize("own", [False, True], ids=["init+freeze", "own-model-tensors"])
def test_an_interrupted_fine_tuning_or_own_model_run_resumes_exactly(tmp_path, r8_cached,
                                                                     monkeypatch, own):
    from safetensors.torch import load_file

    from resnetlab.train import engine

    data = image_folder(tmp_path / "d", mode="RGB", size=16)
    conf = cfg(data, init=r8_cached, freeze=1, model="auto", iters=7, checkpoint_every=2,
               deterministic=True)
    kwargs = {}
    if own:
        conf = cfg(data, iters=7, checkpoint_every=2, deterministic=True)
        x, y = tensors()
        kwargs = {"train_data": (x, y), "val_data": (x[:9], y[:9])}

    def run(out):
        torch.manual_seed(0)  # the same initial weights for the own model
        extra = {"model": TinyNet()} if own else {}
        return fit(conf, out, **kwargs, **extra)

    full = run(tmp_path / "a")
    orig, calls = engine.TrainStep.__call__, {"n": 0}

    def stop_at_5(self, x, y):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return orig(self, x, y)

    monkeypatch.setattr(engine.TrainStep, "__call__", stop_at_5)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b")
    monkeypatch.setattr(engine.TrainStep, "__call__", orig)
    resumed = run(tmp_path / "b")
    a = load_file(str(full.out_dir / "model.safetensors"))
    b = load_file(str(resumed.out_dir / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_run_saved_before_the_new_keys_existed_still_resumes():
    from resnetlab.train.config import config_diff

    new = load_recipe("demo").to_dict()
    old = {k: v for k, v in new.items() if k not in ("folder_pipeline", "channels", "norm_stats",
                                                      "init", "init_source", "freeze")}
    assert config_diff(old, new) == []
    assert config_diff(old, {**new, "freeze": 1}) == ["freeze: 0 -> 1"]
