"""The CLI of reproduce/analyze: arguments checked with clear errors, reports written."""

import json

import pytest

from resnetlab.cli import main
from resnetlab.cli.reproduce import parse_depths, parse_set
from resnetlab.reproduce.experiment import Options, run_experiment


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
        parse_set(["amp"])
    assert parse_set(["amp=off", "lr = 0.05"]) == {"amp": "off", "lr": "0.05"}
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
