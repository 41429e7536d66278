import json

import numpy as np
import pytest
import torch
from infer_models import FASHION, calibrated, model_file, one_thread  # noqa: F401 (autouse fixture)
from PIL import Image

from resnetlab.cli import main
from resnetlab.inference import export_model, read_export_meta
from resnetlab.inference.predict import SCHEMA, Predictor, predict
from resnetlab.inference.preprocessing import Preprocessing, expand_inputs


@pytest.fixture(scope="module")
def r8(tmp_path_factory):
    return model_file(tmp_path_factory.mktemp("m"))


@pytest.fixture
def folder(tmp_path):
    """Three readable images (RGB, grayscale, RGBA palette sizes), one corrupt, one text."""
    d = tmp_path / "imgs"
    (d / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(d / "a.jpg")
    Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(d / "sub" / "b.png")
    Image.fromarray(rng.integers(0, 255, (30, 20, 4), dtype=np.uint8)).save(d / "c.png")
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but then nothing")
    (d / "notes.txt").write_text("not an image")
    return d


def test_corrupt_file_is_reported_and_the_rest_classified(r8, folder):
    result = predict(Predictor.from_file(r8), [folder], k=3, batch_size=2)
    assert [p["path"] for p in result.predictions] == [
        str(folder / "a.jpg"), str(folder / "c.png"), str(folder / "sub" / "b.png")]
    assert [e["path"] for e in result.errors] == [str(folder / "broken.png")]
    for p in result.predictions:
        probs = [t["probability"] for t in p["top"]]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-9
        assert [t["rank"] for t in p["top"]] == [1, 2, 3]
        assert all(t["class"] == FASHION[t["index"]] for t in p["top"])


def test_globs_files_and_missing_paths(folder):
    files, errors = expand_inputs([str(folder / "*.jpg"), folder / "sub" / "b.png",
                                   folder / "a.jpg", folder / "nope.png", str(folder / "*.gif")])
    assert files == [folder / "a.jpg", folder / "sub" / "b.png"]  # duplicates once
    assert [e["error"] for e in errors] == ["no such file or folder", "no image file matches"]


def test_preprocessing_follows_the_model_file():
    pre = Preprocessing.from_meta({"model": "resnet8", "input_size": [1, 28, 28],
                                   "normalization": {"mean": [0.5], "std": [0.25]}})
    img = Image.fromarray(np.full((56, 84, 3), 255, np.uint8))  # RGB, twice the size, wide
    fitted = pre.fit(img)
    assert fitted.mode == "L" and fitted.size == (28, 28)
    x = pre.normalize(np.asarray(fitted)[None])
    assert x.dtype == np.float32 and np.allclose(x, (1 - 0.5) / 0.25)


def test_large_inputs_resize_then_centre_crop():
    pre = Preprocessing.from_meta({"model": "resnet50"})  # converted file: registry defaults
    assert (pre.channels, pre.height, pre.width, pre.crop_pct) == (3, 224, 224, 0.875)
    assert pre.notes  # the defaults it used are reported, not silent
    img = np.zeros((300, 400, 3), np.uint8)
    img[:, 200:] = 255  # right half white: the centre crop must keep both halves
    fitted = np.asarray(pre.fit(Image.fromarray(img)))
    assert fitted.shape == (224, 224, 3)
    assert fitted[:, :100].max() == 0 and fitted[:, -100:].min() == 255


def test_pixel_mean_normalisation():
    pm = np.full((1, 4, 4), 0.25, np.float32)
    pre = Preprocessing.from_meta({"model": "resnet8", "input_size": [1, 4, 4],
                                   "normalization": {"pixel_mean": pm.tolist()}})
    x = pre.normalize(np.full((1, 4, 4), 255, np.uint8))
    assert np.allclose(x, 0.75)
    with pytest.raises(ValueError, match="pixel_mean"):
        Preprocessing.from_meta({"model": "resnet8", "input_size": [1, 8, 8],
                                 "normalization": {"pixel_mean": pm.tolist()}})


def test_exported_onnx_file_agrees_with_torch(r8, folder, tmp_path):
    onnx_file = export_model(r8, tmp_path / "m.onnx", verify=False).path
    torch_res = predict(Predictor.from_file(r8), [folder], k=10)
    ort_predictor = Predictor.from_file(onnx_file)  # preprocessing and classes from the file
    assert ort_predictor.backend == "onnxruntime" and ort_predictor.classes == FASHION
    ort_res = predict(ort_predictor, [folder], k=10)
    assert len(ort_res.predictions) == len(torch_res.predictions) == 3
    for a, b in zip(torch_res.predictions, ort_res.predictions):
        assert a["top"][0]["index"] == b["top"][0]["index"]
        pa = np.array([t["probability"] for t in sorted(a["top"], key=lambda t: t["index"])])
        pb = np.array([t["probability"] for t in sorted(b["top"], key=lambda t: t["index"])])
        assert np.abs(pa - pb).max() < 1e-5


def test_cli_json_schema(r8, folder, capsys):
    rc = main(["predict", str(r8), str(folder), "--json", "-k", "2"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1  # one unreadable file
    assert list(doc) == ["schema", "model", "model_file", "backend", "top_k", "predictions",
                         "errors"]
    assert doc["schema"] == SCHEMA and doc["backend"] == "torch" and doc["top_k"] == 2
    assert set(doc["predictions"][0]) == {"path", "top"}
    assert set(doc["predictions"][0]["top"][0]) == {"rank", "class", "index", "probability"}
    assert doc["errors"] == [{"path": str(folder / "broken.png"),
                              "error": doc["errors"][0]["error"]}]
    assert "broken.png" in doc["errors"][0]["path"]


def test_cli_table_and_csv(r8, folder, capsys):
    assert main(["predict", str(r8), str(folder / "a.jpg")]) == 0
    out = capsys.readouterr().out
    assert "a.jpg" in out and "%" in out
    assert main(["predict", str(r8), str(folder), "--csv", "-k", "1"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "path,rank,class,index,probability,error"
    assert len(lines) == 1 + 3 + 1 and lines[-1].startswith(str(folder / "broken.png"))


def test_cli_errors_name_the_problem(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "none.safetensors"), "x.png"]) == 2
    assert "no model file" in capsys.readouterr().err


def test_converted_torchvision_file_predicts_and_exports(tmp_path, folder, capsys):
    """A file from `resnetlab convert` of a 10-class torchvision-layout net carries
    torchvision's ImageNet statistics and the registry's input size; with no class names
    for 10 classes, class numbers stand in."""
    torch.save(calibrated("resnet8", 32).state_dict(), tmp_path / "tv.pth")
    assert main(["convert", str(tmp_path / "tv.pth"), str(tmp_path / "c.safetensors"),
                 "--source", "torchvision"]) == 0
    assert main(["predict", str(tmp_path / "c.safetensors"), str(folder / "a.jpg"),
                 "--json", "-k", "1"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out[captured.out.index("{\n"):])  # after convert's line
    assert doc["predictions"][0]["top"][0]["class"] in [str(i) for i in range(10)]
    assert "no normalization" not in captured.err  # the file has it
    report = export_model(tmp_path / "c.safetensors", tmp_path / "c.pt", "torchscript")
    assert all(c.passed for c in report.checks)
    assert read_export_meta(report.path)["input_size"] == [3, 32, 32]
