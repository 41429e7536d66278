"""reproduce tricks and overfitting: the plans (steps, cumulative keys, cache keys), the time
estimate, and the verdicts computed from metrics (fake runs, no training)."""

import pytest

from resnetlab.analysis.report import Report
from resnetlab.cli import main
from resnetlab.reproduce import overfitting, tricks
from resnetlab.reproduce.ablation import OfRun, Variant, missing_keys
from resnetlab.reproduce.experiment import Options
from resnetlab.reproduce.experiments import run_experiment
from resnetlab.reproduce.runner import RunRecord, build_config, run_folder
from resnetlab.reproduce.verdicts import gain


def test_gain_holds_only_beyond_the_seeds_spread():
    assert gain("c", [10.0, 10.2, 9.8], [9.0, 9.1, 8.9]).status == "holds"
    assert gain("c", [9.0, 9.1, 8.9], [10.0, 10.2, 9.8]).status == "reversed"
    near = gain("c", [10.0, 10.4, 9.6], [9.8, 10.2, 9.4], names=("the step before", "with it"))
    assert near.status == "inconclusive" and near.seeds_better == 3
    assert "needs a fall of more than 0.80" in near.text and "with it" in near.text
    assert gain("c", [10.0], [9.0]).status == "unknown"
    with pytest.raises(ValueError, match="no test error"):
        gain("c", [None], [9.0])


def test_values_stated_against_the_run_length():
    assert OfRun(0.05).resolve(3000) == 150 and OfRun(0.05).resolve(4) == 1
    assert OfRun(0.05, ema=True).resolve(3000) == pytest.approx(1 - 1 / 150)
    assert OfRun(0.05, ema=True).resolve(4) == 0.5  # a valid decay however short the run


def test_the_tricks_plan_stacks_one_step_at_a_time(tmp_path):
    opts = Options(budget="full", seeds=3, out=tmp_path / "t")
    specs = tricks.plan(opts)
    steps, skipped = tricks.ladder()
    assert [s.name for _, s, *_ in steps] + [s["step"] for s in skipped] != [
        s.name for s in tricks.STEPS] or not skipped
    assert {s.tags["step"] for s in specs} == {s.name for _, s, *_ in steps}
    assert steps[0][1].name == "paper" and steps[-1][1].name == "longer"
    configs = {(s.tags["step"], s.tags["seed"]): build_config(s) for s in specs}
    base, cosine = configs[("paper", 0)], configs[("cosine", 0)]
    assert (base.schedule, base.milestones, base.iters) == ("step", [1500, 2250], 3000)
    assert (cosine.schedule, cosine.warmup, cosine.warmup_iters) == ("cosine", "linear", 150)
    smoothing = configs[("smoothing", 0)]
    assert smoothing.schedule == "cosine" and smoothing.label_smoothing == 0.1
    longer = configs[("longer", 0)]
    assert longer.iters == 6000 and longer.warmup_iters == 300 and longer.ema > 0
    assert longer.label_smoothing == 0.1 and longer.model == "resnet20"
    # every step and seed is its own cache entry
    folders = {run_folder(tmp_path, s, build_config(s)).name for s in specs}
    assert len(folders) == len(specs) == 3 * len(steps)


def test_a_step_this_build_lacks_is_left_out_and_the_next_builds_on_the_last(monkeypatch):
    assert missing_keys({"lr": 0.1, "no_such_key": 1, "model_overrides": {"nope": 1}}) == [
        "no_such_key", "model_overrides.nope"]
    monkeypatch.setattr(tricks, "STEPS", (
        Variant("paper", "paper", {}), Variant("future", "+ future", {"no_such_key": 1}),
        Variant("smoothing", "+ ls", {"label_smoothing": 0.1})))
    steps, skipped = tricks.ladder()
    assert [s.name for _, s, *_ in steps] == ["paper", "smoothing"]
    assert skipped == [{"step": "future", "title": "+ future", "missing": ["no_such_key"]}]


def test_the_overfitting_plan_labels_its_subset(tmp_path):
    specs = overfitting.plan(Options(budget="quick", seeds=2))
    assert len(specs) == 2 * (2 + len(overfitting.REGULARISERS))
    assert {s.label for s in specs} >= {"resnet8-n500-s0", "resnet56-n500-s1"}
    configs = [build_config(s) for s in specs]
    assert {c.subset for c in configs} == {500} and {c.iters for c in configs} == {300}
    # the budget's departures, so that both nets can fit the subset (budgets.OVERFITTING_WHY)
    assert {(c.pad, c.flip, c.model_overrides["zero_init_residual"]) for c in configs} == {
        (0, False, True)}
    assert len({run_folder(tmp_path, s, c).name for s, c in zip(specs, configs)}) == len(specs)


def _record(tmp_path, spec, test_error, train_error):
    metrics = [{"iter": i, "train_error": train_error} for i in range(1, 11)]
    return RunRecord(spec, tmp_path / spec.label, "cached",
                     {"final": {"test_error": test_error}}, metrics, 1.0, {"iters": 10})


def test_tricks_verdicts_come_from_the_metrics(tmp_path, monkeypatch):
    monkeypatch.setattr(tricks, "STEPS", (
        Variant("paper", "the paper's recipe", {}, "He"),
        Variant("cosine", "+ cosine", {"schedule": "cosine"}, "SGDR",
                drops=("milestones", "milestone_unit")),
        Variant("smoothing", "+ ls", {"label_smoothing": 0.1}, "Szegedy"),
        Variant("longer", "+ longer", {}, "RSB", length=2.0)))
    opts = Options(budget="smoke", seeds=3)
    errors = {"paper": [10.0, 10.2, 9.8], "cosine": [9.0, 9.1, 8.9],
              "smoothing": [9.0, 9.2, 8.8], "longer": [9.9, 10.0, 9.8]}
    records = [_record(tmp_path, s, errors[s.tags["step"]][s.tags["seed"]], 5.0)
               for s in tricks.plan(opts)]
    (tmp_path / "out").mkdir()
    results = tricks.analyze(records, opts, Report("t", tmp_path / "out"))
    status = {(v["kind"], v["step"]): v["status"] for v in results["verdicts"]}
    assert status == {("step", "cosine"): "holds", ("step", "smoothing"): "inconclusive",
                      ("step", "longer"): "reversed", ("stack", "smoothing"): "holds",
                      ("stack", "longer"): "inconclusive"}
    claims = results["claims"]
    assert claims[0]["link"] == "tricks" and claims[0]["paper"] == "SGDR"
    assert claims[0]["seeds_holding"] == 3 and claims[0]["seeds"] == 3
    assert (tmp_path / "out" / "tricks.png").is_file()


def test_overfitting_verdicts_and_the_gap_closed(tmp_path, monkeypatch):
    monkeypatch.setattr(overfitting, "REGULARISERS", (
        Variant("smooth", "+ label smoothing", {"label_smoothing": 0.1}, "Szegedy"),))
    opts = Options(budget="smoke", seeds=3)
    test = {"shallow": [10.0, 10.1, 9.9], "deep": [12.0, 12.1, 11.9],
            "smooth": [11.0, 11.1, 10.9]}
    train = {"shallow": 4.0, "deep": 0.5, "smooth": 1.0}
    records = [_record(tmp_path, s, test[s.tags["variant"]][s.tags["seed"]],
                       train[s.tags["variant"]]) for s in overfitting.plan(opts)]
    (tmp_path / "out").mkdir()
    results = overfitting.analyze(records, opts, Report("o", tmp_path / "out"))
    fits, worse, cure = results["verdicts"]
    assert fits["status"] == "holds" and fits["after"] == pytest.approx(0.5)
    assert worse["status"] == "holds" and worse["gain"] == pytest.approx(2.0)
    assert cure["status"] == "holds" and cure["gap_closed"] == pytest.approx(0.5)
    assert [c["link"] for c in results["claims"]] == ["overfitting"] * 3


def test_the_estimate_is_printed_before_anything_trains(tmp_path):
    lines = []
    speeds = []

    def speed(config, data):
        speeds.append(config.model)
        return 1000.0

    path, plan = run_experiment("tricks", Options(budget="quick", seeds=3, out=tmp_path / "t"),
                                log=lines.append, speed=speed, dry_run=True)
    text = "\n".join(lines)
    assert path is None and not (tmp_path / "t").exists()
    assert speeds == ["resnet20"] and "estimated training time" in text
    assert "| resnet20-t0-paper-s2 |" in text and plan["estimated_seconds"] > 0


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["reproduce", "depth", "--budget", "full", "--dry-run"]) == 2
    assert "unknown budget 'full' for depth: use one of smoke, quick, paper" in \
        capsys.readouterr().err
    assert main(["reproduce", "tricks", "--budget", "paper", "--dry-run"]) == 2
    assert "for tricks: use one of smoke, quick, full" in capsys.readouterr().err
    assert main(["reproduce", "tricks", "--depths", "20", "--dry-run"]) == 2
    assert "tricks trains its own nets: drop --depths/--models" in capsys.readouterr().err
    assert main(["reproduce", "all", "--budget", "full", "--dry-run"]) == 2
    assert "unknown budget 'full' for all" in capsys.readouterr().err


def test_help_and_seeds_default(monkeypatch, capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    out = capsys.readouterr().out
    assert "tricks" in out and "overfitting" in out and "full" in out
    import resnetlab.cli.reproduce as cli

    seen = []
    monkeypatch.setattr(cli, "run_experiment", lambda name, opts: seen.append(opts))
    assert main(["reproduce", "tricks", "--budget", "smoke"]) == 0
    assert main(["reproduce", "depth", "--budget", "smoke"]) == 0
    assert main(["reproduce", "overfitting", "--budget", "smoke", "--seeds", "4"]) == 0
    assert [o.seeds for o in seen] == [3, 1, 4]



def test_a_finished_run_costs_nothing_unless_forced(tmp_path):
    from resnetlab.reproduce.queue import plan_runs

    specs = tricks.plan(Options(budget="smoke", seeds=1))[:2]
    done = run_folder(tmp_path, specs[0], build_config(specs[0]))
    done.mkdir(parents=True)
    (done / "summary.json").write_text('{"status": "complete"}')
    assert [p.status for p in plan_runs(specs, tmp_path, "tricks")] == ["cached", "train"]
    assert [p.status for p in plan_runs(specs, tmp_path, "tricks", force=True)] == [
        "train", "train"]
