"""Hostile model files and command lines (issue 13, "Errors that are tracebacks or
mislead"): each ends in one clear message naming the problem and the fix, exit code 2, never
a traceback, a huge allocation or unsafe advice."""

import json

import pytest
import torch
from infer_models import model_file
from safetensors.torch import save_file
from train_helpers import learnable_mnist, tiny_config

from resnetlab import create_model
from resnetlab.cli import main as cli_main
from resnetlab.train import fit, load_recipe


def run_cli(argv, capsys):
    rc = cli_main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


@pytest.fixture
def weights(tmp_path):
    return model_file(tmp_path)


@pytest.fixture
def image(tmp_path):
    from PIL import Image
    path = tmp_path / "x.png"
    Image.new("L", (28, 28), 100).save(path)
    return path


VERBS = {"predict": lambda w, img, tmp: ["predict", w, img],
         "evaluate": lambda w, img, tmp: ["evaluate", w, "--device", "cpu"],
         "export": lambda w, img, tmp: ["export", w, "--format", "torchscript", "--out",
                                        tmp / "out.pt"]}


# -- model.json ----------------------------------------------------------------------------
@pytest.mark.parametrize("meta,match", [
    ({"classes": ["a"]}, 'no "model" key'),
    (["resnet8"], "not a JSON object"),
    ({"model": "resnet8", "overrides": {"num_classes": 10 ** 12}}, "num_classes"),
    ({"model": "resnet8", "input_size": [1, 100000, 100000]}, "input_size"),
])
@pytest.mark.parametrize("verb", ["predict", "evaluate"])
def test_a_bad_model_json_is_one_clear_error(weights, image, tmp_path, capsys, meta, match,
                                             verb):
    weights.with_suffix(".json").write_text(json.dumps(meta))
    rc, _, err = run_cli(VERBS[verb](weights, image, tmp_path), capsys)
    assert rc == 2 and str(weights.with_suffix(".json")) in err and match in err, err


def test_bounds_say_why(weights, image, tmp_path, capsys):
    weights.with_suffix(".json").write_text(json.dumps(
        {"model": "resnet8", "overrides": {"num_classes": 10 ** 12}}))
    _, _, err = run_cli(["predict", weights, image], capsys)
    assert "at most" in err and "GB" in err, err


def test_a_broken_json_header_inside_safetensors_names_the_file(tmp_path, image, capsys):
    path = tmp_path / "m.safetensors"
    save_file({k: v.contiguous() for k, v in create_model("resnet8", num_classes=10,
                                                          in_chans=1).state_dict().items()},
              str(path), metadata={"resnetlab": "{not json"})
    rc, _, err = run_cli(["predict", path, image], capsys)
    assert rc == 2 and str(path) in err and "metadata" in err, err


# -- files that are not what they claim ----------------------------------------------------
@pytest.mark.parametrize("verb", sorted(VERBS))
@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_a_torch_pickle_is_named_and_convert_suggested(tmp_path, image, capsys, verb, suffix):
    path = tmp_path / f"model{suffix}"
    torch.save(create_model("resnet8", num_classes=10, in_chans=1).state_dict(), path)
    rc, _, err = run_cli(VERBS[verb](path, image, tmp_path), capsys)
    assert rc == 2 and "torch checkpoint" in err and "resnetlab convert" in err, err


class NotATensor:
    pass


def test_convert_never_suggests_weights_only_false(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "extra": NotATensor()}, path)
    rc, _, err = run_cli(["convert", path, tmp_path / "o.safetensors", "--source",
                          "torchvision"], capsys)
    assert rc == 2 and "never unpickles" in err and "NotATensor" in err, err
    assert "weights_only" not in err and "can still be loaded" not in err, err


# -- the command line ----------------------------------------------------------------------
@pytest.mark.parametrize("key,text,value", [
    ("weight_decay", "5e-4", 5e-4), ("lr", "1e-3", 1e-3), ("lr", "1e9", 1e9),
    ("iters", "1e3", 1000), ("milestones", "[3.2e4, 4.8e4]", [32000, 48000]),
    ("final_lr", "1E-5", 1e-5), ("weight_decay", ".5e-3", 5e-4),
])
def test_numbers_in_the_usual_notations_are_numbers(key, text, value):
    # final_lr belongs to the demo's one-cycle schedule, milestones to paper-cifar's steps
    cfg = load_recipe("demo" if key == "final_lr" else "paper-cifar", {key: text})
    assert getattr(cfg, key) == pytest.approx(value) and type(getattr(cfg, key)) is type(value)


def test_numbers_in_recipes_too(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: resnet8\niters: 1e3\nweight_decay: 5e-4\nlr: 1e-3\n")
    cfg = load_recipe(recipe)
    assert (cfg.iters, cfg.weight_decay, cfg.lr) == (1000, 5e-4, 1e-3)


def test_a_word_is_still_refused_where_a_number_is_due():
    with pytest.raises(ValueError, match="lr takes a number > 0, got 'fast'"):
        load_recipe("demo", {"lr": "fast"})


@pytest.mark.parametrize("n", ["0", "-3"])
def test_nproc_below_one_is_refused(n, capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "--nproc", n, "--iters", "1"])
    assert e.value.code == 2 and "--nproc" in capsys.readouterr().err


@pytest.mark.parametrize("opset", ["5", "-1", "99"])
def test_an_unsupported_opset_is_one_clear_error(weights, tmp_path, capsys, opset):
    rc, _, err = run_cli(["export", weights, "--format", "onnx", "--out",
                          tmp_path / "m.onnx", "--opset", opset], capsys)
    assert rc == 2 and "opset" in err and "7" in err and "18" in err, err


def test_a_batch_larger_than_the_data_names_a_real_option(tmp_path):
    root = learnable_mnist(tmp_path / "mnist", n_train=40, n_test=10)
    with pytest.raises(ValueError) as e:
        fit(tiny_config(root, batch_size=64), tmp_path / "run")
    assert "drop_last" not in str(e.value) and "batch_size" in str(e.value)


def test_export_into_a_missing_folder_creates_it_and_says_so(weights, tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "m.pt"
    rc, stdout, _ = run_cli(["export", weights, "--format", "torchscript", "--out", out,
                             "--no-verify"], capsys)
    assert rc == 0 and out.is_file() and f"created {out.parent}" in stdout, stdout


def test_number_lists_in_recipes_too(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: resnet8\niters: 64000\nmilestones: [3.2e4, 4.8e4]\n")
    assert load_recipe(recipe).milestones == [32000, 48000]
