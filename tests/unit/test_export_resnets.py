"""The paper's networks export to ONNX and verify against PyTorch within 1e-4 (fp32)."""

import pytest
from infer_models import model_file, one_thread  # noqa: F401 (autouse fixture)

from resnetlab.inference import export_model, read_export_meta


def _export(tmp_path, fmt, suffix, **model_kw):
    path = model_file(tmp_path, **model_kw)
    report = export_model(path, tmp_path / f"out{suffix}", fmt)
    assert report.checks and all(c.passed for c in report.checks), report.to_dict()
    assert max(c.max_abs_diff for c in report.checks) <= 1e-4
    assert {c.batch for c in report.checks} == {1, 3}  # dynamic batch, two sizes
    assert all(c.top1_agreement == 1.0 for c in report.checks)
    return report


# TorchScript and ExportedProgram are checked on resnet8 (same blocks) in test_export_formats.
def test_resnet20_onnx_verifies(tmp_path):
    report = _export(tmp_path, "onnx", ".onnx", name="resnet20", size=32, channels=3,
                        classes=[f"c{i}" for i in range(10)])
    assert read_export_meta(report.path)["model"] == "resnet20"


@pytest.mark.slow
@pytest.mark.parametrize("stride_in_1x1", [True, False], ids=["v1", "v1.5"])
def test_resnet50_onnx_verifies(tmp_path, stride_in_1x1):
    # 64 px instead of 224: the same graph and weights, a sixth of the verification time.
    report = _export(tmp_path, "onnx", ".onnx", name="resnet50", size=64, channels=3,
                        classes=[f"c{i}" for i in range(10)], stride_in_1x1=stride_in_1x1)
    assert read_export_meta(report.path)["overrides"]["stride_in_1x1"] is stride_in_1x1
