"""Run pictures: paper-style curves (thin dashed train, bold test) and the confusion matrix."""

import matplotlib.pyplot as plt

from resnetlab.analysis.plots import curves_figure, plot_confusion, plot_curves

ROWS = [{"iter": 100, "train_error": 60.0}, {"iter": 200, "train_error": 40.0,
                                            "val_error": 45.0, "test_error": 44.0},
        {"iter": 300, "train_error": 30.0, "val_error": 35.0, "test_error": 34.0}]


def test_curves_are_in_the_papers_style():
    fig = curves_figure({"resnet20": ROWS, "plain20": ROWS[:2]})
    lines = {ln.get_label(): ln for ln in fig.axes[0].lines}
    plt.close(fig)
    train, test = lines["resnet20 train"], lines["resnet20 test"]
    assert train.get_linestyle() == "--" and test.get_linestyle() == "-"
    assert test.get_linewidth() > 2 * train.get_linewidth()
    assert list(train.get_xdata()) == [100, 200, 300] and list(test.get_ydata()) == [44.0, 34.0]
    assert lines["plain20 test"].get_color() != test.get_color()
    assert fig.axes[0].get_xlabel() == "iterations" and "%" in fig.axes[0].get_ylabel()


def test_pngs_are_written_atomically(tmp_path):
    p = plot_curves(ROWS, tmp_path / "curves.png", title="t")
    c = plot_confusion([[5, 1], [0, 4]], ["a", "b"], tmp_path / "c.png")
    assert p.read_bytes()[:4] == c.read_bytes()[:4] == b"\x89PNG"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["c.png", "curves.png"]


def test_curves_add_a_panel_of_training_loss_and_lr_against_iterations():
    rows = [{**r, "train_loss": 2.0 - i / 2, "lr": 0.1 * 0.1 ** i} for i, r in enumerate(ROWS)]
    fig = curves_figure(rows)
    error, low, lr_axis = fig.axes
    plt.close(fig)
    assert error.get_ylabel() == "error (%)" and "train" in [ln.get_label() for ln in error.lines]
    assert low.get_ylabel() == "training loss" and lr_axis.get_ylabel() == "learning rate"
    assert list(low.lines[0].get_ydata()) == [2.0, 1.5, 1.0]
    assert list(lr_axis.lines[0].get_xdata()) == [100, 200, 300]
    assert lr_axis.get_yscale() == "log"
