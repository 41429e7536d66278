"""The run cache: complete runs are skipped, half-done runs resumed, configs hashed."""

import json

import pytest

from resnetlab.reproduce.experiment import final_test_error
from resnetlab.reproduce.runner import (
    RunSpec,
    config_key,
    execute,
    read_metrics,
    run_folder,
)


class FakeFit:
    """Stands in for resnetlab.train.fit: writes metrics and, if it finishes, the summary."""

    def __init__(self, finish=True):
        self.calls = []
        self.finish = finish

    def __call__(self, config, out_dir, resume, force):
        self.calls.append((config["model"], resume, force))
        out_dir.mkdir(parents=True, exist_ok=True)
        rows = [{"iter": i, "train_error": 50.0 - i, "test_error": 60.0 - i if i % 2 else None}
                for i in (1, 2, 3)]
        (out_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        if self.finish:
            (out_dir / "summary.json").write_text(json.dumps({"status": "complete",
                                                              "time_seconds": 1.5,
                                                              "final": {"test_error": 56.5}}))


def build(spec):
    return {"model": spec.overrides["model"], "iters": 3}


SPECS = [RunSpec("plain8-s0", {"model": "plain8"}), RunSpec("resnet8-s0", {"model": "resnet8"})]


def test_trains_then_skips_complete_runs(tmp_path):
    fit = FakeFit()
    logs = []
    first = execute(SPECS, tmp_path, build=build, fit=fit, log=logs.append)
    assert [r.status for r in first] == ["trained", "trained"]
    assert len(fit.calls) == 2
    second = execute(SPECS, tmp_path, build=build, fit=fit, log=logs.append)
    assert [r.status for r in second] == ["cached", "cached"]
    assert len(fit.calls) == 2
    assert second[0].seconds == 1.5
    assert second[0].curve("test_error") == [(1, 59.0), (3, 57.0)]
    assert second[0].final("test_error") == 56.5
    assert second[0].final("train_error") == 47.0
    assert any("skipped" in line for line in logs)


def test_half_done_run_is_resumed(tmp_path):
    with pytest.raises(RuntimeError, match="does not say complete"):
        execute(SPECS[:1], tmp_path, build=build, fit=FakeFit(finish=False), log=print)
    fit = FakeFit()
    (record,) = execute(SPECS[:1], tmp_path, build=build, fit=fit, log=print)
    assert record.status == "resumed" and fit.calls == [("plain8", True, False)]


def test_force_retrains(tmp_path):
    fit = FakeFit()
    execute(SPECS[:1], tmp_path, build=build, fit=fit, log=print)
    (record,) = execute(SPECS[:1], tmp_path, build=build, fit=fit, force=True, log=print)
    assert record.status == "trained" and fit.calls[-1] == ("plain8", False, True)


def test_changed_config_is_a_new_folder_runtime_keys_are_not(tmp_path):
    spec = SPECS[0]
    a = run_folder(tmp_path, spec, {"model": "plain8", "iters": 3, "device": "cpu"})
    b = run_folder(tmp_path, spec, {"model": "plain8", "iters": 4, "device": "cpu"})
    c = run_folder(tmp_path, spec, {"model": "plain8", "iters": 3, "device": "cuda"})
    assert a != b and a == c and a.name.startswith("plain8-s0-")
    assert config_key({"a": 1, "b": 2}) == config_key({"b": 2, "a": 1})


def test_corrupt_files_are_named(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"iter": 1}\n{"iter": \n')
    with pytest.raises(ValueError, match="metrics.jsonl:2"):
        read_metrics(tmp_path / "metrics.jsonl")
    folder = run_folder(tmp_path, SPECS[0], build(SPECS[0]))
    folder.mkdir()
    (folder / "summary.json").write_text("{oops")
    with pytest.raises(ValueError, match="summary.json: corrupt"):
        execute(SPECS[:1], tmp_path, build=build, fit=FakeFit(), log=print)


def test_tail_mean(tmp_path):
    (record,) = execute(SPECS[:1], tmp_path, build=build, fit=FakeFit(), log=print)
    assert record.tail_mean("train_error", frac=0.5) == pytest.approx((48 + 47) / 2)
    assert record.tail_mean("missing") is None


def test_final_test_error_pools_the_final_models_over_seeds(tmp_path):
    records = execute(SPECS, tmp_path, build=build, fit=FakeFit(), log=print)
    (records[1].out_dir / "summary.json").write_text(json.dumps(
        {"status": "complete", "final": {"test_error": 58.5}}))
    records = execute(SPECS, tmp_path, build=build, fit=FakeFit(), log=print)
    mean, std, n = final_test_error(records)
    assert (mean, n) == (57.5, 2) and std == pytest.approx(2 ** 0.5)
    assert final_test_error(records[:1]) == (56.5, None, 1)


def test_every_config_key_is_hashed_runtime_or_added_with_its_neutral_value():
    """A new TrainConfig key must be sorted: in ADDED_KEYS with the value that computes what
    runs computed before it existed (so finished runs stay cached), or a runtime key."""
    from resnetlab.reproduce.runner import ADDED_KEYS, CACHE_RUNTIME_KEYS, HASHED_KEYS
    from resnetlab.train.config import FIELDS, default

    unsorted = set(FIELDS) - set(HASHED_KEYS) - set(ADDED_KEYS) - set(CACHE_RUNTIME_KEYS)
    assert not unsorted, (f"add {sorted(unsorted)} to reproduce.runner.ADDED_KEYS or "
                          "CACHE_RUNTIME_KEYS")
    for key, neutral in ADDED_KEYS.items():
        assert default(key) == neutral, f"{key}: its default must be the neutral value"


def test_an_added_key_at_its_neutral_value_keeps_the_hash(monkeypatch):
    from resnetlab.reproduce import runner

    before = config_key({"model": "resnet20", "lr": 0.1})
    monkeypatch.setitem(runner.ADDED_KEYS, "init", None)
    assert config_key({"model": "resnet20", "lr": 0.1, "init": None}) == before
    assert config_key({"model": "resnet20", "lr": 0.1, "init": "weights.safetensors"}) != before


def test_cache_keys_of_the_shipped_recipes_never_change():
    """Finished runs are found by these hashes: a change here orphans every cached run."""
    from resnetlab.train import load_recipe

    assert config_key(load_recipe("paper-cifar")) == "1a11f190e5"
    assert config_key(load_recipe("demo")) == "b6472cc91a"
    assert config_key(load_recipe("paper-imagenet")) == "7e6fcfc882"
    assert config_key(load_recipe("finetune")) == "03ffb49fa5"


@pytest.mark.parametrize("recipe,overrides,key", [
    ("paper-cifar", {"epochs": 2, "subset": 1000}, "6022ab5571"),
    ("paper-cifar", {"iters": "64000"}, "834612fbab"),
    ("demo", {"lr": "5e-4", "nesterov": "true", "iters": 7}, "82ebd7cad5"),
    ("paper-imagenet", {"schedule": "step", "epochs": 90, "milestones": "30,60"}, "831bb61a63"),
    ("paper-cifar", {"model": "resnet110", "warmup_until_error": "null",
                     "test_scales": "[224, 256]", "seed": 3}, "c67eceff10"),
    ("demo", {"subset": 512, "val_size": 100, "iters": 40}, "1f8b7cedd7"),
])
def test_cache_keys_of_overridden_runs_never_change(recipe, overrides, key):
    """Overrides typed as on a command line and rescaled schedules hash as they did when
    these were pinned (the hand-written config of before pydantic): a cached run is found."""
    from resnetlab.train import load_recipe

    assert config_key(load_recipe(recipe, overrides, rescale=True)) == key
