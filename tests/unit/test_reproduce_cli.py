"""The CLI of reproduce/analyze: arguments checked with clear errors, reports written."""

import json

import pytest

from resnetlab.cli import main
from resnetlab.cli.reproduce import parse_depths
from resnetlab.cli.train import parse_sets
from resnetlab.reproduce.experiment import Options
from resnetlab.reproduce.experiments import run_experiment


def test_analyze_gradients_writes_report_figure_and_json(tmp_path, capsys):
    out = tmp_path / "g"
    rc = main(["analyze", "gradients", "plain8", "resnet8", "--steps", "1", "--batch-size", "8",
               "--out", str(out)])
    assert rc == 0
    assert "| plain8 | 7 |" in capsys.readouterr().out
    data = json.loads((out / "results.json").read_text())
    assert [p["name"] for p in data["profiles"]] == ["plain8", "resnet8"]
    assert (out / "gradients.png").stat().st_size > 1000
    assert "![" in (out / "report.md").read_text()


def test_analyze_gradients_unknown_model_is_a_clear_error(tmp_path, capsys):
    rc = main(["analyze", "gradients", "resnet21", "--out", str(tmp_path)])
    assert rc == 2 and "6n+2" in capsys.readouterr().err


def test_reproduce_bad_arguments(tmp_path, capsys):
    with pytest.raises(ValueError, match="key=value"):
        parse_sets(["amp"])
    assert parse_sets(["amp=off", "lr = 0.05"]) == {"amp": "off", "lr": "0.05"}
    with pytest.raises(ValueError, match="comma-separated"):
        parse_depths("20,x")
    assert parse_depths("20, 56") == (20, 56)
    assert main(["reproduce", "degradation", "--seeds", "0"]) == 2
    assert "--seeds must be >= 1" in capsys.readouterr().err
    assert main(["reproduce", "degradation", "--data", "/no/such/folder", "--budget", "smoke",
                 "--out", str(tmp_path / "x")]) == 2
    assert "unknown data" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_unknown_experiment_and_budget():
    with pytest.raises(ValueError, match="unknown budget"):
        Options(budget="huge")
    with pytest.raises(ValueError, match="unknown experiment"):
        run_experiment("nope", Options())


def test_plans_follow_budget_depths_models_and_seeds():
    from resnetlab.reproduce import degradation, depth, responses, shortcuts

    quick = degradation.plan(Options(budget="quick"))
    assert [s.label for s in quick] == ["plain20-s0", "plain56-s0", "resnet20-s0", "resnet56-s0"]
    assert quick[0].overrides["milestones"] == [1000, 1500]
    assert quick[0].overrides["iters"] == 2000
    # the quick budget's one departure from the paper: zero-init residual branches, only
    # in the ResNets (a plain net keeps the paper's recipe)
    assert quick[0].overrides["model_overrides"] == {}
    assert quick[2].overrides["model_overrides"] == {"zero_init_residual": True}
    seeds = depth.plan(Options(budget="paper", seeds=2, depths=(20, 1202)))
    assert [s.label for s in seeds] == ["resnet20-s0", "resnet20-s1", "resnet1202-s0",
                                        "resnet1202-s1"]
    assert seeds[1].overrides["seed"] == 1 and seeds[0].overrides["iters"] == 64000
    sc = shortcuts.plan(Options(budget="smoke"))
    # option A is the CIFAR nets' default: the depth table's own run, not a copy of it
    assert [s.overrides["model_overrides"] for s in sc] == [{}, {"shortcut": "B"},
                                                            {"shortcut": "C"}]
    assert [s.label for s in sc] == ["resnet8-s0", "resnet8-B-s0", "resnet8-C-s0"]
    r = responses.plan(Options(budget="quick", models=("plain20", "resnet110")))
    assert [x.tags["depth"] for x in r] == [20, 110]
    with pytest.raises(ValueError, match="not a CIFAR-style"):
        Options(models=("resnet50",))
    with pytest.raises(ValueError, match="single --depths"):
        shortcuts.plan(Options(depths=(20, 32)))


def test_same_run_is_shared_between_experiments():
    from resnetlab.reproduce import degradation, responses

    deg = {s.label: s.overrides for s in degradation.plan(Options(budget="quick"))}
    res = {s.label: s.overrides for s in responses.plan(Options(budget="quick"))}
    assert deg == res


def test_default_run_cache_sits_beside_the_report_folder(tmp_path):
    assert Options().runs_dir("degradation") == Options().runs_dir("responses")
    rep = tmp_path / "rep"
    assert Options(out=rep / "deg").runs_dir("degradation") == rep / "runs"
    assert Options(out=tmp_path, runs=tmp_path / "r").runs_dir("depth") == tmp_path / "r"


def test_image_folder_runs_use_the_imagenet_recipe_and_resnet34(tmp_path):
    from resnetlab.reproduce import responses, shortcuts

    specs = shortcuts.plan(Options(data=str(tmp_path), budget="smoke"))
    assert {s.recipe for s in specs} == {"paper-imagenet"}
    assert specs[0].overrides["model"] == "resnet34"
    assert specs[0].overrides["data"] == str(tmp_path.resolve())
    with pytest.raises(ValueError, match="test split"):
        responses.plan(Options(data=str(tmp_path), budget="smoke"))


def test_threads_reach_every_run(monkeypatch, tmp_path):
    # --threads fixes each run's threads (a config key): torch.set_num_threads alone is undone
    # by every run, which picks the cores idle at its own start
    import resnetlab.cli.reproduce as cli

    seen = []
    monkeypatch.setattr(cli, "run_experiment", lambda name, opts: seen.append(opts))
    base = ["reproduce", "depth", "--budget", "smoke", "--out", str(tmp_path)]
    assert main([*base, "--threads", "1"]) == 0
    assert main([*base, "--threads", "1", "--set", "threads=2"]) == 0
    assert main(base) == 0
    assert [o.extra.get("threads") for o in seen] == ["1", "2", None]
    from resnetlab.reproduce import depth
    from resnetlab.reproduce.runner import build_config
    assert {build_config(s).threads for s in depth.plan(seen[0])} == {1}
