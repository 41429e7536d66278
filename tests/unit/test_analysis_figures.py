"""Figures are real PNGs written atomically; reports embed them and state provenance."""

import json

from PIL import Image

from resnetlab.analysis.figures import (
    ablation_figure,
    comparison_figure,
    depth_figure,
    gradients_figure,
    responses_figure,
)
from resnetlab.analysis.report import Report, fmt_mean_std, markdown_table


def _png(path):
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > 300
    assert not list(path.parent.glob(".*.tmp"))


def test_all_figures_write_pngs(tmp_path):
    curve = {"label": "plain-20", "depth": 20, "train": [(0, 90.0), (100, 40.0)],
             "test": [(100, 45.0)]}
    _png(comparison_figure([("plain", [curve]), ("ResNet", [{**curve, "label": "ResNet-20"}])],
                           tmp_path / "a.png"))
    _png(responses_figure({"plain-20": [1.0, 0.5, 0.7], "ResNet-20": [0.4, 0.3, 0.2]},
                          tmp_path / "b.png"))
    _png(gradients_figure([{"name": "plain8", "residual": False, "steps": 2,
                            "init": [1.0, 0.5], "after": [0.9, 0.4]}], tmp_path / "c.png"))
    _png(depth_figure([{"depth": 20, "mean": 8.0, "std": None, "reference": 8.75},
                       {"depth": 56, "mean": 7.0, "std": 0.2, "reference": 6.97}],
                      tmp_path / "d.png"))


def test_ablation_figure_says_when_its_axis_is_cut(tmp_path, monkeypatch):
    """The zoomed axis is named as such only when it does not start at 0."""
    from matplotlib.axes import Axes
    labels = []
    monkeypatch.setattr(Axes, "set_ylabel", lambda self, text, *a, **k: labels.append(text))
    zoomed = {"test error": {"a": [10.0, 10.4], "b": [11.0, 11.2]}}
    from_zero = {**zoomed, "training error": {"a": [0.0, 0.0], "b": [5.0, 6.0]}}
    _png(ablation_figure(zoomed, tmp_path / "z.png"))
    _png(ablation_figure(from_zero, tmp_path / "f.png"))
    assert labels == ["error (%) (axis does not start at 0)", "error (%)"]


def test_report_embeds_figures_tables_and_provenance(tmp_path):
    r = Report("T", tmp_path, command="resnetlab reproduce depth --budget smoke")
    r.section("Results", "some text")
    r.table(["a", "b"], [["x", 1]])
    r.figure(tmp_path / "fig.png", "caption")
    path = r.write({"rows": [1]})
    text = path.read_text()
    assert "![caption](fig.png)" in text and "| x | 1 |" in text
    assert "resnetlab reproduce depth --budget smoke" in text and "torch" in text
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["rows"] == [1] and data["machine"]["cores"] >= 1
    assert set(data["machine"]) >= {"cpu", "torch_threads", "platform", "load_average",
                                    "versions"}
    assert data["machine"]["cpu"] in text


def test_formatting():
    assert fmt_mean_std(None, None, 0) == "—"
    assert fmt_mean_std(7.123, 0.2, 3) == "7.12 ± 0.20 (n=3)"
    assert fmt_mean_std(7.123, None, 1) == "7.12"
    assert markdown_table(["a", "b"], [[1, 2]]).splitlines()[1] == "| :--- | ---: |"
