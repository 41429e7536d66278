import json
import sys
import zipfile

import numpy as np
import onnx
import pytest
from infer_models import FASHION, model_file, one_thread  # noqa: F401 (autouse fixture)

from resnetlab.inference import MissingDependency, export_formats, export_model, read_export_meta
from resnetlab.inference.onnx_tools import onnx_session, session_runner


@pytest.fixture(scope="module")
def r8(tmp_path_factory):
    return model_file(tmp_path_factory.mktemp("m"))


@pytest.mark.parametrize(("fmt", "suffix"), [("torchscript", ".pt"),
                                             ("exported-program", ".pt2")])
def test_archive_formats_verify_and_carry_meta(r8, tmp_path, fmt, suffix):
    report = export_model(r8, tmp_path / f"m{suffix}", fmt, fold_bn=True)
    assert report.checks and all(c.passed for c in report.checks)
    assert {c.batch for c in report.checks} == {1, 3}
    meta = read_export_meta(report.path)
    assert meta["classes"] == FASHION and meta["fold_bn"] is True
    assert meta["normalization"] == {"mean": [0.286], "std": [0.353]}
    assert meta["input_size"] == [1, 28, 28] and meta["format"] == fmt
    names = zipfile.ZipFile(report.path).namelist()
    assert not any(".tmp" in n for n in names), "the archive is named after the temp file"


def test_onnx_static_batch_and_metadata_props(r8, tmp_path):
    report = export_model(r8, tmp_path / "s.onnx", "onnx", dynamic_batch=False, batch_size=4)
    assert [c.batch for c in report.checks] == [4, 4]
    proto = onnx.load(str(report.path))
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [4, 1, 28, 28]
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["classes"]) == FASHION
    assert json.loads(props["input_size"]) == [1, 28, 28]
    assert json.loads(props["resnetlab"])["batch_size"] == 4


def test_old_opset_goes_through_the_torchscript_exporter(r8, tmp_path):
    report = export_model(r8, tmp_path / "o.onnx", "onnx", opset=17)
    assert report.exporter == "torchscript" and report.opset == 17
    assert all(c.passed for c in report.checks)
    run = session_runner(onnx_session(report.path))
    assert run(np.zeros((5, 1, 28, 28), np.float32)).shape == (5, 10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fmt": "onnx", "out": "m.pt"}, "must end in .onnx"),
        ({"fmt": "tflite", "out": "m.tflite"}, "unknown format"),
        ({"fmt": "torchscript", "out": "m.pt", "opset": 17}, "ONNX exports only"),
        ({"fmt": "torchscript", "out": "m.pt", "dynamic_batch": False}, "any batch size"),
    ],
)
def test_bad_requests_are_refused(r8, tmp_path, kwargs, match):
    kwargs["out"] = tmp_path / kwargs["out"]
    with pytest.raises(ValueError, match=match):
        export_model(r8, **kwargs)
    assert not any(tmp_path.iterdir())


def test_a_failed_check_leaves_nothing(r8, tmp_path, monkeypatch):
    write = export_formats.WRITERS["torchscript"]

    def corrupting(model, *args):
        fc = model.fc
        fc.bias.data += 0.01  # the written file now differs from the model file
        return write(model, *args)

    monkeypatch.setitem(export_formats.WRITERS, "torchscript", corrupting)
    with pytest.raises(ValueError, match="differs from PyTorch.*nothing was written"):
        export_model(r8, tmp_path / "bad.pt", "torchscript", fold_bn=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("missing", ["onnx", "onnxruntime", "onnxscript"])
def test_missing_onnx_packages_say_what_to_install(r8, tmp_path, monkeypatch, missing):
    monkeypatch.setitem(sys.modules, missing, None)  # `import missing` now raises ImportError
    with pytest.raises(MissingDependency, match=r"pip install resnetlab\[export\]"):
        export_model(r8, tmp_path / "m.onnx", "onnx")
    assert list(tmp_path.iterdir()) == []


def test_export_meta_of_foreign_files_is_refused(tmp_path):
    bad = tmp_path / "x.pt2"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a TorchScript/ExportedProgram archive"):
        read_export_meta(bad)
    with pytest.raises(FileNotFoundError):
        read_export_meta(tmp_path / "missing.onnx")


def test_real_images_join_the_check(r8, tmp_path):
    from PIL import Image

    for i in range(3):
        Image.fromarray(np.full((40, 30), 60 * i, np.uint8)).save(tmp_path / f"{i}.png")
    report = export_model(r8, tmp_path / "m.pt", "torchscript", images=[tmp_path])
    real = [c for c in report.checks if c.inputs == "given images"]
    assert len(real) == 1 and real[0].batch == 32 and real[0].passed  # tiled to 32
    report = export_model(r8, tmp_path / "s.pt2", "exported-program", images=[tmp_path],
                          dynamic_batch=False, batch_size=2)
    assert {c.batch for c in report.checks} == {2}
    with pytest.raises(ValueError, match="no such file"):
        export_model(r8, tmp_path / "x.pt", "torchscript", images=[tmp_path / "nope.png"])
