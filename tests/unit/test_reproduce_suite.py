"""reproduce all: one plan over the four experiments, each net once, a measured estimate,
a compile decision from a measurement, and verdicts judged in every seed."""

import json

import pytest
import yaml

from resnetlab.reproduce import claims, queue, suite
from resnetlab.reproduce.experiment import Options
from resnetlab.reproduce.runner import check_same_run, config_key
from resnetlab.train import load_recipe


def test_the_suite_trains_each_net_once_and_shares_it_between_experiments(tmp_path):
    opts = Options(budget="quick", seeds=3, out=tmp_path / "all")
    planned = suite.plan_suite(opts)
    labels = [p.spec.label for p in planned]
    assert len(labels) == len(set(labels))
    nets = {label.rsplit("-s", 1)[0] for label in labels}
    # the depth table's ResNets, the plain twins, and only B and C as extra shortcut runs
    assert {"resnet20", "resnet56", "plain20", "plain56"} <= nets
    assert {n for n in nets if n.endswith(("-B", "-C"))} and not any(
        n.endswith("-A") for n in nets)
    r56 = next(p for p in planned if p.spec.label == "resnet56-s1")
    assert r56.experiments[:2] == ["depth", "degradation"] and "responses" in r56.experiments
    shortcut_net = next(p for p in planned if p.spec.label.endswith("-B-s0")).config.model
    a = next(p for p in planned if p.spec.label == f"{shortcut_net}-s0")
    assert "shortcuts" in a.experiments and "depth" in a.experiments
    assert all(p.status == "train" for p in planned)
    assert all(p.out_dir.parent == tmp_path / "runs" for p in planned)


def test_estimate_comes_from_one_measurement_per_net_and_counts_what_is_left(tmp_path):
    planned = suite.plan_suite(Options(budget="quick", seeds=2, out=tmp_path / "all"))
    measured = []

    def speed(config, data):
        measured.append((config.model, config.model_overrides.get("shortcut")))
        return 1280.0  # images/s: 10 iterations of batch 128 per second

    first = planned[0]
    first.done_iters = first.config.iters // 2
    speeds = queue.estimate(planned, "fashion-mnist", speed, log=lambda s: None)
    assert len(measured) == len(set(measured)) == len(speeds)
    full = planned[1].seconds
    iters = planned[1].config.iters
    assert full == pytest.approx(iters / 10 + (iters / planned[1].config.eval_every)
                                 * 10000 / (3 * 1280.0))
    assert first.seconds == pytest.approx(full / 2)


def test_compile_is_chosen_from_the_measurement(tmp_path):
    opts = Options(budget="quick", out=tmp_path / "all")
    planned = suite.plan_suite(opts)
    for p in planned:
        p.seconds = 600.0
    probe = max(planned, key=lambda p: p.seconds)
    import torch

    ident = {"model": probe.config.model, "torch": torch.__version__,
             "threads": torch.get_num_threads(), "data": opts.data,
             "batch_size": probe.config.batch_size}
    cache = tmp_path / "runs" / "compile-measurement.json"
    cache.parent.mkdir(parents=True)

    def decide(ratio, compile_seconds):
        cache.write_text(json.dumps({"ident": ident, "eager_images_per_second": 100.0,
                                     "compiled_images_per_second": 100.0 * ratio,
                                     "compile_seconds": compile_seconds}))
        return suite.decide_compile(opts, planned, "auto", {}, log=lambda s: None)

    assert decide(1.5, 30.0).use  # saves 200 s a run for 30 s of compiling
    slow = decide(1.05, 120.0)  # saves ~29 s a run for 120 s
    assert not slow.use and "1.05x" in slow.reason and "off" in slow.reason
    assert suite.decide_compile(opts, planned, "on", {}).use
    assert not suite.decide_compile(Options(budget="smoke", out=tmp_path / "s"),
                                    suite.plan_suite(Options(budget="smoke",
                                                             out=tmp_path / "s")),
                                    "auto", {}).use


def test_a_claim_holds_only_in_every_seed():
    assert claims.per_seed_claim([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])["status"] == "holds"
    mixed = claims.per_seed_claim([1.0, 5.0, 3.0], [2.0, 3.0, 4.0])
    assert mixed["status"] == "inconclusive" and mixed["seeds_holding"] == 2
    assert claims.per_seed_claim([5.0, 5.0], [2.0, 3.0])["status"] == "reversed"
    assert claims.per_seed_claim([2.0], [2.0])["status"] == "inconclusive"  # a tie shows nothing
    assert claims.per_seed_claim([None], [2.0])["status"] == "missing"


def test_bad_input_is_refused_with_the_fix(tmp_path):
    with pytest.raises(ValueError, match="6n\\+2"):
        Options(depths=(21,))
    with pytest.raises(ValueError, match="--seeds must be >= 1"):
        Options(seeds=0)
    with pytest.raises(ValueError, match="unknown budget"):
        Options(budget="weekend")
    with pytest.raises(ValueError, match="drop --depths"):
        suite.run_suite(Options(depths=(20, 56), out=tmp_path))
    with pytest.raises(ValueError, match="--compile takes one of"):
        suite.run_suite(Options(out=tmp_path), compile_choice="maybe")


def test_a_cache_folder_holding_another_recipe_is_refused(tmp_path):
    config = load_recipe("paper-cifar", {"model": "resnet20", "iters": 100})
    other = load_recipe("paper-cifar", {"model": "resnet20", "iters": 100, "lr": 0.05})
    folder = tmp_path / f"resnet20-s0-{config_key(config)}"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(config.to_dict()))
    check_same_run(folder, config)  # the same recipe: fine
    (folder / "config.yaml").write_text(yaml.safe_dump(other.to_dict()))
    with pytest.raises(ValueError, match="different recipe under the same name.*lr.*--force"):
        check_same_run(folder, config)


def test_the_quick_budget_names_its_departure_from_the_paper_in_every_report():
    from resnetlab.reproduce.experiment import budget_paragraph

    text = budget_paragraph(Options(budget="quick"))
    assert "Not the paper's recipe" in text and "zero_init_residual=True (ResNets only)" in text
    assert "Not the paper's recipe" not in budget_paragraph(Options(budget="paper"))


def test_quick_runs_are_the_sweeps_runs():
    """benchmarks/quick_budget_sweep.py's zi-2k variant trains the very runs (same config
    hash) that the quick budget needs, so the sweep's runs are the evidence's seed 0."""
    from resnetlab.reproduce.runner import build_config

    sweep = _sweep_module()
    runtime = {"threads": 2, "progress": "off", "tensorboard": False}
    swept = {s.label: config_key(build_config(s))
             for s in sweep.specs_for("zi-2k", ["resnet56", "plain56"], 1, "fashion-mnist",
                                      runtime)}
    planned = {p.spec.label: config_key(p.config)
               for p in suite.plan_suite(Options(budget="quick"))}
    assert swept == {k: planned[k] for k in swept}


def test_the_sweeps_paper_variants_keep_the_papers_init():
    """paper-2k is the control of the quick budget's departure: its ResNets must not inherit
    the zero-initialised branches (they did once, and the control trained nothing: every run
    was the quick budget's, from the cache)."""
    from resnetlab.reproduce.runner import build_config

    sweep = _sweep_module()
    runtime = {"threads": 2, "progress": "off", "tensorboard": False}
    for variant in ("paper-2k", "paper-1.5k", "late-2k", "warmup-2k", "linwarm-2k"):
        for s in sweep.specs_for(variant, ["resnet56"], 1, "fashion-mnist", runtime):
            assert not build_config(s).model_overrides.get("zero_init_residual"), variant
    zi = sweep.specs_for("zi-2k", ["resnet56"], 1, "fashion-mnist", runtime)
    assert build_config(zi[0]).model_overrides.get("zero_init_residual") is True
    paper = sweep.specs_for("paper-2k", ["resnet56", "plain56"], 1, "fashion-mnist", runtime)
    planned = {p.spec.label: config_key(p.config)
               for p in suite.plan_suite(Options(budget="quick"))}
    keys = {s.label: config_key(build_config(s)) for s in paper}
    assert keys["resnet56-s0"] != planned["resnet56-s0"]  # a run of its own
    assert keys["plain56-s0"] == planned["plain56-s0"]  # plain nets: the very same run


def _sweep_module():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "benchmarks" / "quick_budget_sweep.py"
    spec = importlib.util.spec_from_file_location("sweep", path)
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    return sweep


def test_dry_run_prints_the_plan_and_estimate_and_trains_nothing(tmp_path, capsys):
    from resnetlab.cli import main

    calls = []

    def speed(config, data):
        calls.append((config.model, config.model_overrides.get("shortcut")))
        return 1000.0

    lines = []
    path, plan = suite.run_suite(Options(budget="quick", out=tmp_path / "all"),
                                 compile_choice="off", log=lines.append, speed=speed,
                                 dry_run=True)
    assert path is None and not (tmp_path / "all").exists() and not (tmp_path / "runs").exists()
    assert len(set(calls)) == len(calls) > 0 and plan["estimated_seconds"] > 0
    text = "\n".join(lines)
    assert "estimated training time" in text and "| resnet56-s0 |" in text
    assert main(["reproduce", "degradation", "--compile", "on"]) == 2
    assert "--compile goes with `reproduce all`" in capsys.readouterr().err
