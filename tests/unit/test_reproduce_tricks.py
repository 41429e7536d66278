"""reproduce tricks: the cumulative plan, the spread rule, and a smoke-budget run end to end
(ETA measured first, report, figure, verdicts; a second run reads every run from the cache)."""

import json

import pytest
from train_helpers import learnable_mnist

from resnetlab.reproduce import tricks
from resnetlab.reproduce.experiment import Options
from resnetlab.reproduce.experiments import run_experiment
from resnetlab.reproduce.runner import build_config


def test_the_plan_adds_one_trick_a_step_to_all_before_it():
    specs = tricks.plan(Options(budget="quick", seeds=3))
    assert len(specs) == 3 * len(tricks.STEPS)
    configs = {s.tags["step"]: build_config(s) for s in specs if s.tags["seed"] == 0}
    paper, cosine, ema, longer = (configs[k] for k in ("paper", "cosine", "ema", "longer"))
    assert (paper.schedule, paper.iters, paper.milestones) == ("step", 800, [400, 600])
    assert (cosine.schedule, cosine.warmup, cosine.warmup_iters) == ("cosine", "linear", 40)
    assert cosine.label_smoothing == 0 and configs["smoothing"].label_smoothing == 0.1
    assert (ema.label_smoothing, ema.mixup_alpha, ema.augment, ema.ema) == (
        0.1, 0.2, "trivialaugment", 0.999)
    assert (longer.iters, longer.ema, longer.warmup_iters) == (1600, 0.999, 80)
    assert len({s.label for s in specs}) == len(specs)


@pytest.mark.parametrize("gain,a,b,n,verdict", [
    (0.5, 0.1, 0.2, 3, "exceeds"), (-0.5, 0.1, 0.2, 3, "exceeds"),
    (0.25, 0.1, 0.2, 3, "within"), (0.5, None, None, 1, "unknown")])
def test_a_gain_counts_only_beyond_the_seeds_spread(gain, a, b, n, verdict):
    assert tricks.spread_verdict(gain, a, b, n) == verdict


@pytest.mark.slow  # 14 tiny runs: ~30 s on the shared 2-core machine
def test_smoke_budget_end_to_end_then_cached(tmp_path):
    root = learnable_mnist(tmp_path / "data")
    opts = Options(data="mnist", budget="smoke", seeds=2, out=tmp_path / "out",
                   runs=tmp_path / "runs", extra={"threads": 1, "progress": "off",
                                                  "tensorboard": False,
                                                  "data_root": str(root)})
    lines = []
    _, results = run_experiment("tricks", opts, log=lines.append)
    assert "14 of 14 runs to train, about" in lines[1] and "training images/s" in lines[1]
    assert [r["step"] for r in results["rows"]] == [s[0] for s in tricks.STEPS]
    assert all(r["n"] == 2 and 0 <= r["mean"] <= 100 for r in results["rows"])
    assert len(results["verdicts"]) == len(tricks.STEPS) - 1
    report = (tmp_path / "out" / "report.md").read_text()
    assert "tricks.png" in report and "gain exceeds spread" in report
    assert (tmp_path / "out" / "tricks.png").stat().st_size > 5000
    lines.clear()
    _, again = run_experiment("tricks", opts, log=lines.append)
    assert "0 of 14 runs to train" in lines[1]
    assert {r["status"] for r in again["runs"]} == {"cached"}
    assert json.loads((tmp_path / "out" / "results.json").read_text())["rows"] == again["rows"]
