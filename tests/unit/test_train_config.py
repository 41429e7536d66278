"""Recipes load as typed configs; overrides are parsed, type-checked and refused with hints."""

import dataclasses

import pytest

from resnetlab.train import TrainConfig, list_recipes, load_recipe
from resnetlab.train.config import coerce, config_diff, config_from_dict, describe_keys
from resnetlab.train.recipe_loading import RECIPES_DIR


def test_shipped_recipes_load_and_state_their_units():
    assert {"demo", "paper-cifar", "paper-imagenet"} <= set(list_recipes())
    for name in list_recipes():
        cfg = load_recipe(name)
        assert cfg.recipe == name
        assert "Units:" in (RECIPES_DIR / f"{name}.yaml").read_text()


def test_paper_cifar_is_the_papers_recipe():
    c = load_recipe("paper-cifar")
    assert (c.model, c.data, c.batch_size, c.lr, c.momentum, c.weight_decay) == (
        "resnet20", "cifar10", 128, 0.1, 0.9, 1e-4)
    assert (c.schedule, c.milestones, c.milestone_unit, c.gamma, c.iters) == (
        "step", [32000, 48000], "iters", 0.1, 64000)
    assert c.val_size == 5000 and c.pad == 4 and c.flip and c.normalize == "pixel"
    assert (c.warmup, c.warmup_lr, c.warmup_iters, c.warmup_until_error, c.warmup_min_depth) == (
        "constant", 0.01, 400, 80.0, 110)
    # the optional tricks are all off in the paper's recipes
    for name in ("paper-cifar", "paper-imagenet"):
        c = load_recipe(name)
        assert (c.label_smoothing, c.ema, c.grad_clip, c.wd_exclude, c.nesterov) == (
            0.0, 0.0, 0.0, [], False)


def test_paper_imagenet_plateau_and_fixed_alternative():
    c = load_recipe("paper-imagenet")
    assert (c.batch_size, c.lr, c.momentum, c.weight_decay, c.schedule) == (
        256, 0.1, 0.9, 1e-4, "plateau")
    step = load_recipe("paper-imagenet", {"schedule": "step", "epochs": 90})
    assert step.milestone_iters(5005) == [30 * 5005, 60 * 5005]
    assert step.total_iters(5005) == 90 * 5005


def test_demo_uses_the_cpu_friendly_tricks():
    c = load_recipe("demo")
    assert c.model == "resnet20" and c.data == "fashion-mnist"
    assert c.schedule in ("onecycle", "cosine") and c.nesterov and c.label_smoothing > 0


def test_speedrun_is_resnet20_with_progressive_sizes_reaching_the_loader():
    import torch

    from resnetlab.data import ImageSet, Normalization
    from resnetlab.distributed import DistInfo
    from resnetlab.train.data import data_options
    from resnetlab.train.loaders import make_loader

    c = load_recipe("speedrun")
    assert c.model == "resnet20" and not c.model_overrides and c.alternate_flip
    assert c.train_sizes[-1] == 28 and min(c.train_sizes) < 28 and not c.eval_test
    images = torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8)
    ds = ImageSet(images, torch.arange(40) % 10, [str(i) for i in range(10)], (0.5,), (0.25,))
    loader = make_loader(ds, Normalization((0.5,), (0.25,)), 8, train=True,
                         opts=data_options(c), device=torch.device("cpu"), dist=DistInfo())
    sides = [next(iter(loader.epoch_batches(e)))[0].shape[-1] for e in range(len(c.train_sizes))]
    assert sides == c.train_sizes and loader.alternate_flip


def test_command_line_strings_are_parsed_by_type():
    c = load_recipe("paper-cifar", {"lr": "0.05", "nesterov": "true", "milestones": "100,200",
                                    "subset": "1000", "warmup_until_error": "null"})
    assert c.lr == 0.05 and c.nesterov is True and c.milestones == [100, 200]
    assert c.subset == 1000 and c.warmup_until_error is None
    assert load_recipe("paper-cifar", {"milestones": "[5, 6]"}).milestones == [5, 6]
    assert load_recipe("paper-cifar", {"wd_exclude": "norm,bias"}).wd_exclude == ["norm", "bias"]


def test_epochs_and_iters_replace_each_other():
    c = load_recipe("paper-cifar", {"epochs": 2})
    assert c.iters is None and c.epochs == 2.0 and c.total_iters(351) == 702
    c = load_recipe("demo", {"iters": 7})
    assert c.epochs is None and c.total_iters(468) == 7
    with pytest.raises(ValueError, match="exactly one of iters"):
        load_recipe("demo", {"iters": 7, "epochs": 2})


def test_unknown_key_lists_close_matches():
    with pytest.raises(ValueError, match="override: unknown key 'learning_rat'"):
        load_recipe("demo", {"learning_rat": 0.1})
    with pytest.raises(ValueError, match=r"did you mean .*weight_decay"):
        load_recipe("demo", {"weight_decy": 0.1})


@pytest.mark.parametrize("key,value,match", [
    ("lr", "fast", "lr takes a number"),
    ("batch_size", "12.5", "batch_size takes an integer"),
    ("nesterov", "sometimes", "nesterov takes true or false"),
    ("milestones", "a,b", "milestones takes a list of integers"),
    ("model_overrides", "3", "model_overrides takes a mapping"),
    ("iters", True, "iters takes an integer"),
])
def test_wrong_value_type_is_a_clear_error(key, value, match):
    with pytest.raises(ValueError, match=match):
        load_recipe("demo", {key: value})


@pytest.mark.parametrize("overrides,match", [
    ({"amp": "fp8"}, "amp='fp8' is not one of"),
    ({"schedule": "exp"}, "schedule='exp' is not one of"),
    ({"lr": 0}, "lr must be > 0"),
    ({"label_smoothing": 1.5}, "label_smoothing"),
    ({"schedule": "plateau", "val_size": 0}, "val_size > 0"),
    ({"wd_exclude": ["conv"]}, "wd_exclude item 'conv'"),
    ({"device": "tpu"}, "device='tpu'"),
    ({"optimizer": "adamw", "nesterov": False, "betas": [2, 0.9]}, r"betas=\[2.0, 0.9\]: each"),
    ({"dist_timeout": -5}, "dist_timeout must be > 0"),
    ({"test_scales": []}, "test_scales takes a list"),
    ({"train_sizes": [16, 0]}, "train_sizes item 0 must be greater than 0"),
    ({"size_mode": "zoom"}, "size_mode='zoom' is not one of resize | crop"),
])
def test_out_of_range_values_are_refused(overrides, match):
    with pytest.raises(ValueError, match=match):
        load_recipe("demo", overrides)


def test_recipe_files_and_unknown_recipes(tmp_path):
    good = tmp_path / "mine.yaml"
    good.write_text("model: resnet8\niters: 5\nlr: 0.01\n")
    c = load_recipe(good)
    assert (c.model, c.iters, c.lr, c.recipe) == ("resnet8", 5, 0.01, "mine")
    bad = tmp_path / "bad.yaml"
    bad.write_text("modle: resnet8\niters: 5\n")
    with pytest.raises(ValueError, match=r"recipe 'bad': unknown key 'modle'.*model"):
        load_recipe(bad)
    with pytest.raises(ValueError, match="did you mean paper-cifar"):
        load_recipe("paper-cifr")
    with pytest.raises(FileNotFoundError):
        load_recipe(tmp_path / "missing.yaml")


def test_diff_ignores_runtime_keys_and_the_listing_covers_every_key():
    a = load_recipe("demo").to_dict()
    b = load_recipe("demo", {"device": "cpu", "compile": True, "epochs": 9}).to_dict()
    assert config_diff(a, b) == [f"epochs: {a['epochs']!r} -> 9.0"]
    assert [k for k, _, _, _ in describe_keys()] == list(a)
    assert coerce("ema", "0.999") == 0.999


def test_string_keys_keep_what_was_typed():
    c = load_recipe("demo", {"data_root": "2024", "data": "my: set"})
    assert (c.data_root, c.data) == ("2024", "my: set")
    assert load_recipe("demo", {"data_root": "null"}).data_root is None


def test_tensorboard_is_auto_true_or_false():
    assert coerce("tensorboard", "true") is True and coerce("tensorboard", "false") is False
    assert coerce("tensorboard", "null") is None and coerce("tensorboard", None) is None
    with pytest.raises(ValueError, match="tensorboard takes true or false or null"):
        coerce("tensorboard", "sometimes")


@pytest.mark.parametrize("build,line", [
    (lambda: load_recipe("demo", {"lr": -1}), "override: lr must be > 0, got -1"),
    (lambda: load_recipe("demo", {"lrr": 1}), "override: unknown key 'lrr'; did you mean lr?"),
    (lambda: load_recipe("demo", {"amp": "fp8"}),
     "override: amp='fp8' is not one of auto | bf16 | fp16 | off"),
    (lambda: load_recipe("demo", {"ema": "1"}), "override: ema must be in [0, 1), got 1"),
    (lambda: load_recipe("demo", {"gamma": 0}), "override: gamma must be in (0, 1], got 0"),
    (lambda: load_recipe("demo", {"flip": 1}), "override: flip takes true or false, got 1"),
    (lambda: load_recipe("demo", {"milestones": "a,b"}),
     "override: milestones takes a list of integers, got ['a', 'b']"),
    (lambda: TrainConfig(epochs=1, seed=-2), "seed must be >= 0, got -2"),
    (lambda: TrainConfig(epochs=1, weight_decy=0.1), "unknown key 'weight_decy'; did you mean "
     "weight_decay?"),
    (lambda: dataclasses.replace(load_recipe("demo"), device="tpu"),
     "device='tpu' is not one of auto | cpu | cuda | cuda:N"),
    (lambda: dataclasses.replace(load_recipe("demo"), wd_exclude=["conv"]),
     "wd_exclude item 'conv' is not one of norm | bias"),
    (lambda: dataclasses.replace(load_recipe("paper-cifar"), momentum=0, nesterov=True),
     "nesterov needs optimizer sgd with momentum > 0"),
    # issue 22: the modern recipes' keys
    (lambda: load_recipe("demo", {"mixup_alpha": -0.2}),
     "override: mixup_alpha must be >= 0, got -0.2"),
    (lambda: load_recipe("demo", {"augment": "randaugment", "randaugment_magnitude": 12}),
     "override: randaugment_magnitude must be in [0, 10], got 12"),
    (lambda: load_recipe("demo", {"augment": "autoaugment-svhn"}),
     "override: augment='autoaugment-svhn' is not one of none | randaugment | trivialaugment"),
    (lambda: load_recipe("demo", {"optimizer": "lars", "momentum": 0}),
     "optimizer lars needs momentum in (0, 1) (You et al. 2017 use 0.9), got momentum=0.0"),
    (lambda: load_recipe("demo", {"accumulate": 3}),
     "accumulate=3 does not divide batch_size=128: each step needs equal slices"),
    (lambda: load_recipe("demo", {"randaugment_magnitude": 5}),
     "randaugment_magnitude is ignored under augment='none' (used only by "
     "augment=randaugment): drop it, or set augment too"),
    (lambda: load_recipe("demo", {"mix_prob": 0.5}),
     "mix_prob=0.5 is ignored unless mixup_alpha or cutmix_alpha > 0: set them, or drop it"),
    (lambda: load_recipe("demo", {"mixup_alpha": 0.2, "mix_switch_prob": 0.3}),
     "mix_switch_prob=0.3 is ignored unless both mixup_alpha and cutmix_alpha > 0"),
    (lambda: load_recipe("demo", {"optimizer": "adam"}),
     "override: optimizer='adam' is not one of sgd | adamw | lamb | lars"),
    (lambda: load_recipe("demo", {"crop": "rrc", "rrc_scale": [0.5, 0.2]}),
     "rrc_scale=[0.5, 0.2]: need 0 < low <= high <= 1"),
])
def test_a_bad_value_is_one_line_naming_key_value_and_what_is_allowed(build, line):
    """pydantic's multi-line report never reaches the user, whichever way a config is built."""
    with pytest.raises(ValueError) as e:
        build()
    assert str(e.value).startswith(line) and "\n" not in str(e.value)
    assert "validation error" not in str(e.value) and "pydantic" not in str(e.value)


def test_replace_checks_again_and_to_dict_keeps_the_types():
    c = load_recipe("paper-cifar")
    assert dataclasses.replace(c, lr="0.05").lr == 0.05
    with pytest.raises(ValueError, match="set exactly one of iters"):
        dataclasses.replace(c, epochs=3)
    d = c.to_dict()
    assert [type(d[k]) for k in ("iters", "lr", "milestones", "nesterov", "model_overrides")] \
        == [int, float, list, bool, dict]
    assert type(d["milestones"][0]) is int and type(load_recipe("demo").to_dict()["epochs"]) \
        is float
    assert config_from_dict(d).to_dict() == d


def test_yaml_1_1_number_strings_in_a_recipe_read_as_numbers(tmp_path):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("iters: 6.4e4\nweight_decay: 5e-4\nmilestones: [3.2e4, 4.8e4]\n")
    c = load_recipe(recipe)
    assert (c.iters, c.weight_decay, c.milestones) == (64000, 0.0005, [32000, 48000])
    assert type(c.iters) is int and type(c.milestones[0]) is int


def test_the_listing_comes_from_the_declaration(monkeypatch):
    from resnetlab.train.config import FIELDS

    rows = {k: (allowed, default, meaning) for k, allowed, default, meaning in describe_keys()}
    assert rows["lr"] == ("a number > 0", "0.1", FIELDS["lr"].description)
    assert rows["subset"][0] == "an integer >= 1 or null"
    assert rows["gamma"] == ("a number in (0, 1]", "0.1",
                             f"schedule=step|plateau: {FIELDS['gamma'].description}")
    assert rows["wd_exclude"][0] == "a list of norm | bias"
    monkeypatch.setattr(FIELDS["lr"], "description", "the declared help")
    assert dict((k, m) for k, _, _, m in describe_keys())["lr"] == "the declared help"
