"""One reading of a data set name: every alias of a built-in set works in every command that
takes a data set (data, train, evaluate, bench, analyze, reproduce), and an unknown name is
one line with the closest spellings."""

import json
from pathlib import Path

import pytest
from datafiles import isolate, tiny_cifar, tiny_mnist

from resnetlab import create_model, save_model
from resnetlab.cli import main
from resnetlab.data.sets.sources import SOURCES, builtin_name, resolve_data
from resnetlab.reproduce.experiment import Options
from resnetlab.reproduce.suite import plan_suite, suite_dir
from resnetlab.train.data import is_builtin

# Every spelling of a set that has more than one: (spelling, the set's name).
SPELLINGS = [(alias, s.name) for s in SOURCES.values() for alias in s.aliases]
CHANNELS_CLASSES = {"fashion-mnist": (1, 10), "cifar10": (3, 10), "cifar100": (3, 100)}
FMNIST = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Tiny copies of every set that has aliases, in one --root folder."""
    r = tmp_path_factory.mktemp("data")
    tiny_mnist(r / "fashion-mnist", n_train=20, n_test=10)
    tiny_cifar(r, "bin", n=4)
    tiny_cifar(r, "bin", hundred=True, n=20)
    return r


@pytest.fixture
def isolated(monkeypatch, tmp_path, root):
    isolate(monkeypatch, tmp_path)
    return root


def test_every_alias_and_case_means_its_set():
    assert SPELLINGS, "the sources declare aliases"
    for spelling, name in [*SPELLINGS, *((s, s) for s in SOURCES)]:
        for variant in (spelling, spelling.upper(), f" {spelling} "):
            assert builtin_name(variant) == name and resolve_data(variant) == name
            assert is_builtin(variant)
    assert builtin_name("imagenette") is None and not is_builtin("imagenette")


def test_an_unknown_name_gets_the_closest_spellings(tmp_path):
    with pytest.raises(ValueError, match=r"unknown data set 'fmnst': did you mean fmnist"):
        resolve_data("fmnst")
    with pytest.raises(ValueError, match="did you mean cifar10") as e:
        resolve_data("cifar1O", folders=False)
    assert "folder" not in str(e.value) and "\n" not in str(e.value)
    assert resolve_data(str(tmp_path)) == str(tmp_path)  # an existing folder, as given


@pytest.mark.parametrize("spelling, name", SPELLINGS)
def test_data_info_and_get(isolated, capsys, spelling, name):
    assert main(["data", "info", spelling, "--root", str(isolated), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == name
    assert main(["data", "get", spelling, "--root", str(isolated)]) == 0
    assert capsys.readouterr().out.startswith(f"{name}: ")


@pytest.mark.parametrize("spelling, name", SPELLINGS)
def test_bench_data(isolated, capsys, spelling, name):
    assert main(["bench", "data", "--data", spelling, "--root", str(isolated), "--batch-size",
                 "4", "--batches", "1", "--model", "none", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data"] == name


@pytest.mark.parametrize("spelling, name", SPELLINGS)
def test_evaluate_and_analyze_responses(isolated, tmp_path, capsys, spelling, name):
    channels, classes = CHANNELS_CLASSES[name]
    model = create_model("resnet8", in_chans=channels, num_classes=classes)
    size = 28 if channels == 1 else 32
    path = save_model(tmp_path / "m", model, {"model": "resnet8", "dataset": name,
                                              "overrides": {"in_chans": channels,
                                                            "num_classes": classes},
                                              "input_size": [channels, size, size],
                                              "normalization": {"mean": [0.5] * channels,
                                                                "std": [0.25] * channels}})
    assert main(["evaluate", str(path), "--data", spelling, "--data-root", str(isolated),
                 "--device", "cpu", "--out", str(tmp_path / "eval"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data"] == name
    assert main(["analyze", "responses", str(path), "--data", spelling, "--data-root",
                 str(isolated), "--limit", "4"]) == 0
    assert "layers, mean std" in capsys.readouterr().out


@pytest.mark.parametrize("spelling, name", SPELLINGS)
def test_train(isolated, tmp_path, capsys, spelling, name):
    out = tmp_path / "run"
    assert main(["train", "--data", spelling, "--data-root", str(isolated), "--model",
                 "resnet8", "--iters", "1", "--batch-size", "4", "--val-size", "0",
                 "--device", "cpu", "--progress", "off", "--out", str(out),
                 "--set", "tensorboard=false", "--set", "eval_batch_size=64"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["final"]["test_images"] > 0
    assert summary["data"] == name  # one name in the run folder and the cache key


@pytest.mark.slow  # ~20 s: reads the 60,000 images and tests on 10,000
@pytest.mark.skipif(not Path(FMNIST).is_dir(), reason=f"Fashion-MNIST is not at {FMNIST}")
def test_the_issue_command_trains_on_fashion_mnist(tmp_path, capsys):
    """`resnetlab train --data fmnist --subset 256 --iters 2` (issue 24), on the real files."""
    out = tmp_path / "run"
    assert main(["train", "--data", "fmnist", "--subset", "256", "--iters", "2", "--device",
                 "cpu", "--progress", "off", "--out", str(out),
                 "--set", "tensorboard=false"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["train_images"] <= 256


@pytest.mark.parametrize("spelling, name", SPELLINGS)
def test_reproduce_plans_the_same_cached_runs(tmp_path, spelling, name):
    """An alias is the same experiment: the same run folders (cache keys) and report folder."""
    def plan(data):
        opts = Options(data=data, budget="smoke", runs=tmp_path / "runs")
        return [p.out_dir for p in plan_suite(opts)], suite_dir(opts)

    assert Options(data=spelling).data == name
    assert plan(spelling) == plan(name)


@pytest.mark.parametrize("argv", [
    ["train", "--data", "fmnst", "--iters", "1"],
    ["reproduce", "all", "--data", "fmnst", "--dry-run"],
    ["data", "info", "fmnst", "--offline"],
    ["bench", "data", "--data", "fmnst", "--model", "none"],
    ["analyze", "responses", "m.safetensors", "--data", "fmnst"],
])
def test_an_unknown_name_is_one_line_in_every_command(argv, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown data set 'fmnst': did you mean fmnist" in err and len(err.splitlines()) == 1



def test_a_config_holds_the_set_under_its_one_name():
    from resnetlab.train import load_recipe

    assert load_recipe("demo", {"data": "FMNIST"}).data == "fashion-mnist"
    assert load_recipe("demo", {"data": "some/folder"}).data == "some/folder"
