"""benchmarks/time_to_accuracy.py: the quick mode runs both loops end to end on real
Fashion-MNIST images and writes the JSON and the figure; bad input is one clear line."""

import importlib.util
import json
from pathlib import Path

import pytest

from resnetlab.data import find

BENCH = Path(__file__).parents[2] / "benchmarks" / "time_to_accuracy.py"
needs_data = pytest.mark.skipif(find("fashion-mnist") is None,
                                reason="real Fashion-MNIST not found (`make data` gets it)")


def _bench():
    spec = importlib.util.spec_from_file_location("time_to_accuracy", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_data
def test_quick_run_writes_both_curves(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "tta.json"
    assert _bench().main(["--quick", "--recipe", "speedrun", "--threads", "1",
                          "--workers", "0", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [r["who"] for r in result["runs"]] == ["peer", "resnetlab"]
    for run in result["runs"]:
        seconds = [t for t, _ in run["points"]]
        assert seconds == sorted(seconds) and seconds[0] > 0
        assert 0 <= run["final_accuracy"] <= 100 and run["seconds"] == seconds[-1]
    assert set(result["ratios"]["0"]) == {"to_target", "total"}
    assert out.with_suffix(".png").stat().st_size > 1000
    assert "resnetlab" in capsys.readouterr().out


def test_unknown_recipe_is_one_line(tmp_path, capsys):
    assert _bench().main(["--recipe", "speedrnu", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unknown recipe 'speedrnu'" in err and "speedrun" in err
    assert not (tmp_path / "x.json").exists()


def test_missing_data_is_one_line_with_the_fix(tmp_path, monkeypatch, capsys):
    bench = _bench()

    def missing(name, *args, **kwargs):
        raise FileNotFoundError(f"{name}: data set not found; downloading is turned off\n"
                                "  Needed: ...")

    monkeypatch.setattr(bench, "load_dataset", missing)
    assert bench.main(["--recipe", "demo", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "fashion-mnist: data set not found" in err
    assert "make data" in err


@pytest.mark.slow  # 4 runs, each scored on the 10k test images
@needs_data
def test_seeds_script_alternates_recipes_and_summarises(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("speedrun_seeds", BENCH.with_name(
        "speedrun_seeds.py"))
    seeds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seeds)
    out = tmp_path / "seeds.json"
    assert seeds.main(["--quick", "--recipes", "speedrun", "demo", "--seeds", "0", "1",
                       "--threads", "1", "--runs", str(tmp_path / "runs"), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [(r["recipe"], r["seed"]) for r in result["runs"]] == [
        ("speedrun", 0), ("demo", 0), ("speedrun", 1), ("demo", 1)]
    assert all(r["seconds"] > 0 and 0 <= r["test_accuracy"] <= 100 for r in result["runs"])
    s = result["summary"]["speedrun"]
    assert s["n"] == 2 and s["min_accuracy"] <= s["mean_accuracy"] <= s["max_accuracy"]
    assert "speedrun: mean" in capsys.readouterr().out
    assert seeds.main(["--recipes", "sprint", "--out", str(out)]) == 2
    assert "unknown recipe 'sprint'" in capsys.readouterr().err
