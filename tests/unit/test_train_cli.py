"""`resnetlab train / evaluate / bench train` end to end on the tiny data set, and their errors."""

import json

import pytest
from train_helpers import learnable_mnist

from resnetlab.cli import main


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return learnable_mnist(tmp_path_factory.mktemp("mnist"))


def train_args(root, out, *extra):
    return ["train", "--model", "resnet8", "--data", "mnist", "--data-root", str(root),
            "--iters", "10", "--batch-size", "32", "--out", str(out), "--device", "cpu",
            "--set", "threads=1", "--set", "eval_batch_size=64", "--set", "flip=false",
            "--progress", "off", *extra]


@pytest.fixture(scope="module")
def run_dir(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(train_args(root, out, "--val-size", "32")) == 0
    return out


def test_train_prints_where_everything_is(run_dir, root, capsys):
    assert main(train_args(root, run_dir, "--val-size", "32")) == 0  # complete: not retrained
    out = capsys.readouterr().out
    assert "test error" in out and str(run_dir / "report.md") in out
    assert str(run_dir / "curves.png") in out and "best validation error" in out
    assert out.startswith("already complete: ") and "nothing was trained" in out
    assert "done:" not in out


def test_report_has_the_schedule_per_class_table_confusion_and_only_keys_that_apply(run_dir):
    report = (run_dir / "report.md").read_text()
    assert "Learning rate: schedule (onecycle, 10 iterations)" in report
    assert "## Per class (test)" in report and "| 7 | " in report
    assert "Confusion matrix" in report and report.count("\n| 3 | ") == 2  # table + matrix
    assert "scale_min" not in report and "test_views" not in report  # image-folder keys
    assert "milestones" not in report  # onecycle has none
    assert "scale_min" in (run_dir / "config.yaml").read_text()


def test_evaluate_reports_errors_per_class_and_a_confusion_matrix(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--json", "--device", "cpu"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["split"] == "test" and r["n"] == 64 and r["data"] == "mnist"
    assert 0 <= r["top5_error"] <= r["top1_error"] <= 100
    assert len(r["per_class_accuracy"]) == 10 and len(r["confusion"]) == 10
    assert sum(map(sum, r["confusion"])) == 64
    summary = json.loads((run_dir / "summary.json").read_text())
    assert r["top1_error"] == pytest.approx(summary["final"]["test_error"])
    png = run_dir / "eval-model-mnist-test-confusion.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(["evaluate", str(run_dir / "best.safetensors"), "--split", "val"]) == 0
    text = capsys.readouterr().out
    assert "mnist val (32 images)" in text and "per-class accuracy" in text


def test_evaluate_refuses_another_architectures_weights(run_dir, tmp_path, capsys):
    for name in ("model.safetensors", "model.json"):
        (tmp_path / name).write_bytes((run_dir / name).read_bytes())
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["model"] = "resnet14"
    (tmp_path / "model.json").write_text(json.dumps(meta))
    assert main(["evaluate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "does not fit the model" in err and "missing" in err


def test_evaluate_val_needs_a_validation_split(root, tmp_path, capsys):
    assert main(train_args(root, tmp_path / "r", "--iters", "2")) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "r"), "--split", "val"]) == 2
    assert "without a validation split" in capsys.readouterr().err


@pytest.mark.parametrize("extra,message", [
    (["--set", "lrr=0.1"], "did you mean lr"),
    (["--set", "lr"], "write key=value"),
    (["--set", "momentum=high"], "momentum takes a number"),
    (["--model", "resnet7"], "6n+2"),
    (["--data", "fashion-mnst"], "fashion-mnst"),
    (["--recipe", "paper-cifr"], "did you mean paper-cifar"),
    (["--set", "mixup_alpha=-0.5"], "mixup_alpha must be >= 0, got -0.5"),
    (["--set", "augment=randaugment", "--set", "randaugment_magnitude=11"],
     "randaugment_magnitude must be in [0, 10], got 11"),
    (["--set", "augment=autoaugment"], "augment='autoaugment' is not one of none | "),
    (["--set", "optimizer=lars", "--set", "momentum=0", "--set", "nesterov=false"],
     "optimizer lars needs momentum in (0, 1)"),
    (["--set", "accumulate=5"], "accumulate=5 does not divide batch_size"),
])
def test_bad_input_is_a_clear_error(root, tmp_path, capsys, extra, message):
    assert main(train_args(root, tmp_path / "r", *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("resnetlab train: error:") and message in err
    assert not (tmp_path / "r" / "config.yaml").exists()


def test_out_dir_with_another_run_is_refused_unless_forced(run_dir, root, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(train_args(root, out, "--iters", "2")) == 0
    assert main(train_args(root, out, "--iters", "3")) == 2
    assert "different recipe (iters: 2 -> 3)" in capsys.readouterr().err
    assert main(train_args(root, out, "--iters", "3", "--resume")) == 2
    assert main(train_args(root, out, "--iters", "3", "--force")) == 0
    assert json.loads((out / "summary.json").read_text())["iters"] == 3


def test_list_keys_comes_from_the_declaration(capsys, monkeypatch):
    from resnetlab.train.config import FIELDS, describe

    monkeypatch.setattr(FIELDS["ema"], "description", "the declared meaning of ema")
    assert main(["train", "--list-keys"]) == 0
    out = capsys.readouterr().out
    for key in FIELDS:
        assert f"\n{key}: {describe(key)}\n    values: " in "\n" + out
    assert "schedule: lr schedule\n    values: step | cosine | onecycle | plateau | constant" in out
    assert "ema: the declared meaning of ema\n    values: a number in [0, 1); default: 0.0" in out


def test_shortcut_flags_take_type_choices_and_help_from_the_declaration(capsys, monkeypatch):
    from resnetlab.cli import build_parser
    from resnetlab.cli.train import SHORTCUTS, SWITCHES
    from resnetlab.train.config import FIELDS, describe

    monkeypatch.setattr(FIELDS["lr"], "description", "the declared help of lr")
    (train,) = [sub for where, sub in _parsers(build_parser()) if where == "resnetlab train"]
    actions = {a.dest: a for a in train._actions}
    for key in (*SHORTCUTS, *SWITCHES):
        assert actions[key].help == describe(key).replace("%", "%%")
    assert actions["lr"].help == "the declared help of lr"
    assert actions["amp"].choices == ("auto", "bf16", "fp16", "off")
    args = build_parser().parse_args(["train", "--iters", "64000", "--epochs", "2", "--lr",
                                      "5e-4", "--no-compile", "--init-source", "timm"])
    assert (args.iters, args.epochs, args.lr, args.compile, args.init_source) == (
        64000, 2.0, 0.0005, False, "timm")
    assert type(args.iters) is int and type(args.epochs) is float
    with pytest.raises(SystemExit):
        main(["train", "--lr", "-1"])
    assert "argument --lr: lr must be > 0, got -1\n" in capsys.readouterr().err


def test_every_key_has_a_meaning():
    from resnetlab.train.config import FIELDS

    missing = [name for name, info in FIELDS.items() if not info.description]
    assert not missing, f"declare what {missing} mean (key(default, help) in train.config)"


def _parsers(parser, path=("resnetlab",)):
    import argparse

    yield " ".join(path), parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def test_every_option_of_every_command_has_a_line_of_help():
    from resnetlab.cli import build_parser

    missing = [f"{where} {'/'.join(a.option_strings)}"
               for where, parser in _parsers(build_parser()) for a in parser._actions
               if a.option_strings and not a.help and a.dest != "help"]
    assert not missing, f"options without help: {missing}"


def test_bench_train_json(capsys):
    assert main(["bench", "train", "--model", "resnet8", "--batch-size", "8", "--steps", "1",
                 "--rounds", "1", "--image-size", "16", "--threads", "1", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    for key in ("images_per_second", "achieved_flops", "matmul_flops",
                "baseline_images_per_second", "speedup"):
        assert r[key] > 0
    assert r["achieved_flops"] == pytest.approx(r["images_per_second"] * r["flops_per_image"])

