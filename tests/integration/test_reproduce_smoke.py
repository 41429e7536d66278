"""Every experiment end to end on real Fashion-MNIST at the smoke budget: runs trained by
resnetlab.train, cached across experiments, reports with figures and verdicts written."""

import gzip
import json
import struct

import numpy as np
import pytest

from resnetlab.cli import main
from resnetlab.data import load_dataset, stratified_subset
from resnetlab.reproduce.experiment import Options
from resnetlab.reproduce.experiments import run_experiment

pytestmark = pytest.mark.slow
SIZES = {"train": 256, "t10k": 200}  # images per split of the small real copy


def _idx(arr: np.ndarray) -> bytes:
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return gzip.compress(head + arr.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """A stratified slice of the real Fashion-MNIST in its official IDX files: the test set
    of 10k images would make every smoke run's evaluation cost seconds."""
    root = tmp_path_factory.mktemp("data")
    folder = root / "fashion-mnist"
    folder.mkdir()
    for prefix, split in (("train", "train"), ("t10k", "test")):
        ds = stratified_subset(load_dataset("fashion-mnist", split), SIZES[prefix])
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(_idx(ds.images[:, 0].numpy()))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(_idx(ds.labels.numpy()))
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


def _opts(tmp_path, runs, data_root, **kw):
    return Options(data="fashion-mnist", budget="smoke", out=tmp_path / "out", runs=runs,
                   extra={"threads": 2, "progress": "off", "tensorboard": False,
                          "data_root": str(data_root)}, **kw)


def test_degradation_cli_end_to_end_then_cached(tmp_path, runs, data_root, capsys):
    out = tmp_path / "deg"
    argv = ["reproduce", "degradation", "--budget", "smoke", "--data", "fashion-mnist",
            "--out", str(out), "--runs", str(runs), "--set", "threads=2",
            "--set", "progress=off", "--set", "tensorboard=false",
            "--set", f"data_root={data_root}"]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert [r["status"] for r in results["runs"]] == ["trained"] * 4
    assert {(r["kind"], r["depth"]) for r in results["rows"]} == {
        ("plain", 8), ("plain", 14), ("resnet", 8), ("resnet", 14)}
    assert all(0 <= r["test_error"] <= 100 for r in results["rows"])
    assert set(results["verdicts"]) == {"plain_train", "resnet_train", "resnet_test"}
    report = (out / "report.md").read_text()
    assert "![" in report and "degradation.png" in report and "## Verdicts" in report
    assert (out / "degradation.png").stat().st_size > 5000
    capsys.readouterr()
    assert main(argv) == 0
    again = json.loads((out / "results.json").read_text())
    assert [r["status"] for r in again["runs"]] == ["cached"] * 4
    assert again["rows"] == results["rows"]


def test_depth_reuses_cached_runs(tmp_path, runs, data_root):
    _, results = run_experiment("depth", _opts(tmp_path, runs, data_root), log=lambda s: None)
    assert [r["status"] for r in results["runs"]] == ["cached", "cached"]
    assert [r["params"] for r in results["rows"]][0] < results["rows"][1]["params"]
    assert (tmp_path / "out" / "depth.png").is_file()


def test_shortcuts_table(tmp_path, runs, data_root):
    _, results = run_experiment("shortcuts", _opts(tmp_path, runs, data_root), log=lambda s: None)
    params = {r["option"]: r["params"] for r in results["rows"]}
    assert params["A"] < params["B"] < params["C"]
    assert "| A |" in (tmp_path / "out" / "report.md").read_text()


def test_responses_measured_on_the_test_set(tmp_path, runs, data_root):
    _, results = run_experiment("responses", _opts(tmp_path, runs, data_root), log=lambda s: None)
    assert [r["status"] for r in results["runs"]] == ["cached"] * 4
    assert len(results["stds"]["plain14"]) == len(results["stds"]["resnet14"]) == 13
    assert all(v > 0 for s in results["stds"].values() for v in s.values())
    assert "resnet14_vs_plain14" in results["verdicts"]


def test_reproduce_all_smoke_writes_the_index_and_trains_each_net_once(tmp_path, data_root,
                                                                        capsys):
    out, runs = tmp_path / "all", tmp_path / "runs"
    argv = ["reproduce", "all", "--budget", "smoke", "--data", "fashion-mnist", "--out",
            str(out), "--runs", str(runs), "--set", "threads=2", "--set", "progress=off",
            "--set", "tensorboard=false", "--set", f"data_root={data_root}"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    # the plan comes first: unique runs, measured speeds, the estimate, then the queue
    assert "6 unique runs" in printed and "training images/s" in printed
    assert printed.index("estimated training time") < printed.index("[run 1/6]")
    assert "[run 6/6]" in printed and "torch.compile off" in printed
    # one folder per unique net: option A and degradation's ResNets are the depth table's
    assert len([d for d in runs.iterdir() if d.is_dir()]) == 6
    index = (out / "index.md").read_text()
    for name in ("depth", "degradation", "shortcuts", "responses"):
        assert f"]({name}/report.md)" in index
        assert (out / name / "report.md").is_file()
    results = json.loads((out / "results.json").read_text())
    claims = {c["claim"]: c for c in results["claims"]}
    assert any(c.startswith("Fig. 1 / 6 left") for c in claims)
    assert any(c.startswith("Table 3") for c in claims)
    assert any(c.startswith("Fig. 7") for c in claims)
    # every verdict is computed from the measured values: re-judge one from the runs
    deg = json.loads((out / "degradation" / "results.json").read_text())
    plain = {r["depth"]: r["test_error"] for r in deg["rows"] if r["kind"] == "plain"}
    row = next(c for c in results["claims"] if c["claim"].startswith("Fig. 1 / 6 left")
               and "test" in c["claim"])
    assert row["status"] == ("holds" if plain[14] > plain[8] else "reversed")
    assert (out / "shortcuts" / "shortcuts.png").stat().st_size > 5000
    # the index's runs table says what this call did and how long each run trained
    assert [r["status"] for r in results["runs"]] == ["trained"] * 6
    assert all(r["seconds"] > 0 for r in results["runs"])
    assert "| this call |" in index and "6 trained or resumed by this call" in index
    # a second call trains nothing
    assert main(argv) == 0
    again = capsys.readouterr().out
    assert "(6 cached, 0 to train or resume)" in again and "[run 1/" not in again
    index = (out / "index.md").read_text()
    assert "0 trained or resumed by this call, 6 read from the cache" in index
    assert index.count("| cached |") == 6


def test_two_commands_on_one_run_cache_at_once_both_end_well(tmp_path, data_root):
    """Issue 24: the second used to die with "No such file or directory: .../.model..."; now
    it waits for each run the first trains, then reads it from the cache."""
    import os
    import subprocess
    import sys

    def command(name):
        return [sys.executable, "-m", "resnetlab", "reproduce", "degradation", "--budget",
                "smoke", "--data", "fashion-mnist", "--depths", "8", "--runs",
                str(tmp_path / "runs"), "--out", str(tmp_path / name), "--set", "threads=1",
                "--set", "progress=off", "--set", "tensorboard=false",
                "--set", f"data_root={data_root}"]

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(command(n), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for n in ("a", "b")]
    ends = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[1][-2000:] for e in ends]
    statuses = [[r["status"] for r in json.loads((tmp_path / n / "results.json").read_text())
                 ["runs"]] for n in ("a", "b")]
    assert all(sorted(pair) == ["cached", "trained"] for pair in zip(*statuses)), statuses


def test_tricks_smoke_end_to_end_then_cached(tmp_path, data_root, capsys):
    out, runs = tmp_path / "tricks", tmp_path / "runs"
    argv = ["reproduce", "tricks", "--budget", "smoke", "--seeds", "2", "--out", str(out),
            "--runs", str(runs), "--set", "threads=2", "--set", "progress=off",
            "--set", "tensorboard=false", "--set", f"data_root={data_root}"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.index("estimated training time") < printed.index("training in")
    results = json.loads((out / "results.json").read_text())
    steps = [r["name"] for r in results["rows"]]
    assert steps[0] == "paper" and steps[-1] == "longer" and len(steps) >= 4
    assert all(r["n"] == 2 for r in results["rows"])
    step_verdicts = [v for v in results["verdicts"] if v["kind"] == "step"]
    assert [v["step"] for v in step_verdicts] == steps[1:]
    for v, before, after in zip(step_verdicts, results["rows"], results["rows"][1:]):
        assert v["gain"] == pytest.approx(before["test_error"] - after["test_error"])
    assert (out / "tricks.png").stat().st_size > 5000
    assert "## Claims" in (out / "report.md").read_text()
    assert main(argv) == 0
    again = json.loads((out / "results.json").read_text())
    assert {r["status"] for r in again["runs"]} == {"cached"}


def test_overfitting_smoke_end_to_end(tmp_path, data_root):
    opts = Options(data="fashion-mnist", budget="smoke", seeds=2, out=tmp_path / "o",
                   runs=tmp_path / "runs", extra={"threads": 2, "progress": "off",
                                                  "tensorboard": False,
                                                  "data_root": str(data_root)})
    _, results = run_experiment("overfitting", opts, log=lambda s: None)
    assert results["nets"] == ["resnet8", "resnet14"] and results["subset"] == 64
    assert {"shallow", "deep"} <= set(results["rows"])
    assert [v["variant"] for v in results["verdicts"]][:2] == ["deep", "deep"]
    assert len(results["claims"]) == len(results["verdicts"])
    assert (tmp_path / "o" / "overfitting.png").stat().st_size > 5000
