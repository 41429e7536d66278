"""create_model(name, pretrained=..., num_classes=K), init_from's report, and converted files
that carry their class names and normalisation (weights get --out, convert)."""

import json
import shutil

import pytest
import torch
from weightfiles import cached_entry, fake_entry, idelbayev_file, isolated  # noqa: F401 (autouse fixture)

import resnetlab
from resnetlab import create_model, import_checkpoint, load_model, save_model
from resnetlab.checkpoint import read_meta
from resnetlab.cli import main
from resnetlab.weights import (
    CATALOG,
    cache_path,
    detect_source,
    init_from,
    load_pretrained,
    read_pretrained,
)


@pytest.fixture
def r8(tmp_path, monkeypatch):
    """(entry, file): a published 'cifar10-resnet8' whose file is already in the cache."""
    return cached_entry(tmp_path, monkeypatch)


def same_outputs(a, b, shape=(2, 3, 32, 32)):
    torch.manual_seed(1)
    x = torch.randn(*shape)
    with torch.no_grad():
        return torch.equal(a.eval()(x), b.eval()(x))


def test_pretrained_by_name_equals_the_converted_checkpoint(r8):
    entry, src = r8
    model = create_model("resnet8", pretrained=entry.name)
    ref, _, _ = import_checkpoint(src, "cifar-reference")
    assert model.training and same_outputs(model, ref)


def test_other_class_count_gets_a_fresh_classifier_and_a_report(r8):
    entry, src = r8
    model, report = load_pretrained("resnet8", entry.name, num_classes=3)
    ref, _, _ = import_checkpoint(src, "cifar-reference")
    assert model.fc.out_features == 3
    assert report.new == ["fc.weight", "fc.bias"] and report.head_replaced
    assert set(report.loaded) == set(ref.state_dict()) - {"fc.weight", "fc.bias"}
    own, theirs = model.state_dict(), ref.state_dict()
    assert all(torch.equal(own[k], theirs[k]) for k in report.loaded)
    assert "10 -> 3 classes" in report.summary()
    meta = report.model_meta("resnet8", {"num_classes": 3})
    assert "classes" not in meta and meta["normalization"]["std"] == [0.229, 0.224, 0.225]
    assert meta["input_size"] == [3, 32, 32]


def test_same_class_count_loads_everything(r8):
    model = create_model("resnet8", in_chans=3)
    report = init_from(torch.nn.DataParallel(model), r8[0].name)  # wrappers are looked through
    assert report.new == [] and len(report.loaded) == len(model.state_dict())
    assert same_outputs(model, import_checkpoint(r8[1], "cifar-reference")[0])
    assert report.meta["classes"][0] == "airplane"
    assert report.model_meta("resnet8", {})["classes"][-1] == "truck"


def test_a_backbone_loads_every_weight_but_the_classifier(r8):
    entry, src = r8
    backbone, report = load_pretrained("resnet8", entry.name, features_only=True)
    ref, _, _ = import_checkpoint(src, "cifar-reference")
    assert set(report.loaded) == set(ref.state_dict()) - {"fc.weight", "fc.bias"}
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(backbone.eval()(x)[-1], ref.eval().forward_features(x))


def test_another_architecture_is_refused_naming_the_first_tensor(r8):
    entry, _ = r8
    with pytest.raises(ValueError, match=r"first mismatching tensor layer1\.1\.conv1\.weight"):
        create_model("resnet14", pretrained=entry.name)
    gray = create_model("resnet8", in_chans=1)
    before = {k: v.clone() for k, v in gray.state_dict().items()}
    with pytest.raises(ValueError, match=r"conv1\.weight is \(16, 3, 3, 3\) in the weights but "
                                         r"\(16, 1, 3, 3\) in the model"):
        init_from(gray, entry.name)
    assert all(torch.equal(before[k], v) for k, v in gray.state_dict().items())  # unchanged


def test_foreign_files_are_detected(r8, tmp_path):
    _, src = r8
    model = create_model("resnet8", pretrained=str(src), num_classes=4)
    assert model.fc.out_features == 4
    # the same tensors under torchvision's names (fc, no 'module.'): detected as torchvision
    ref, _, _ = import_checkpoint(src, "cifar-reference")
    tv = tmp_path / "tv.pth"
    torch.save(ref.state_dict(), tv)
    assert detect_source(torch.load(tv, weights_only=True)) == "torchvision"
    state, meta, _ = read_pretrained(tv)
    assert meta["source"] == "torchvision" and meta["model"] == "resnet8"
    assert same_outputs(create_model("resnet8", pretrained=tv), ref)
    with pytest.raises(ValueError, match="cannot tell the checkpoint's format"):
        detect_source({"weight": torch.zeros(1)})


def test_resnetlab_model_file_and_run_folder(r8, tmp_path):
    ref, _, _ = import_checkpoint(r8[1], "cifar-reference")
    saved = save_model(tmp_path / "run", ref, {"model": "resnet8", "overrides": {},
                                               "classes": list("abcdefghij")})
    for source in (saved, tmp_path / "run"):
        model, report = load_pretrained("resnet8", source)
        assert same_outputs(model, ref) and report.meta["classes"][0] == "a"


def test_pretrained_true_and_unknown_sources(r8):
    with pytest.raises(ValueError, match="no published weights for 'resnet14'"):
        create_model("resnet14", pretrained=True)
    with pytest.raises(FileNotFoundError, match="neither published.*mean.*cifar10-resnet20"):
        create_model("resnet20", pretrained="cifar10-resnet2")
    assert create_model("resnet8", pretrained=False).fc.out_features == 10
    assert create_model("resnet8", None, 4).fc.out_features == 4  # timm's argument order


def test_convert_writes_classes_and_normalization(r8, tmp_path, capsys):
    out = tmp_path / "r8.safetensors"
    assert main(["convert", str(r8[1]), str(out), "--source", "cifar-reference"]) == 0
    meta = read_meta(out)
    assert meta["classes"][:2] == ["airplane", "automobile"] and meta["dataset"] == "cifar10"
    assert meta["normalization"]["mean"] == [0.485, 0.456, 0.406]
    assert meta["input_size"] == [3, 32, 32] and meta["overrides"]["num_classes"] == 10
    names = tmp_path / "names.txt"
    names.write_text("# mine\n" + "\n".join(f"c{i}" for i in range(10)) + "\n\n")
    assert main(["convert", str(r8[1]), str(out), "--source", "cifar-reference",
                 "--classes", str(names)]) == 0
    meta = read_meta(out)
    assert meta["classes"][9] == "c9" and "dataset" not in meta
    (tmp_path / "three.json").write_text(json.dumps(["a", "b", "c"]))
    assert main(["convert", str(r8[1]), str(out), "--source", "cifar-reference",
                 "--classes", str(tmp_path / "three.json")]) == 2
    assert "names 3 classes but the model has 10" in capsys.readouterr().err
    assert read_meta(out)["classes"][9] == "c9"  # the refused call changed nothing


def test_convert_torchvision_layout_gets_imagenet_meta_when_1000_classes(tmp_path):
    path = tmp_path / "tv.pth"
    torch.save(create_model("resnet18").state_dict(), path)
    out = tmp_path / "tv.safetensors"
    assert main(["convert", str(path), str(out), "--source", "torchvision"]) == 0
    meta = read_meta(out)
    assert meta["classes"][0] == "tench" and meta["input_size"] == [3, 224, 224]
    assert meta["normalization"] == {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    torch.save(create_model("resnet8", in_chans=1).state_dict(), path)  # CIFAR-style, gray
    assert main(["convert", str(path), str(out), "--source", "timm"]) == 0
    meta = read_meta(out)
    assert meta["input_size"] == [1, 32, 32] and "classes" not in meta
    assert "normalization" not in meta  # no default fits one channel


def test_end_to_end_cifar10_resnet20_from_the_shared_fixture(fixtures_dir, tmp_path, capsys):
    """The real file placed in the cache; loaded by name; written with its metadata; used by
    predict without anything else."""
    src = fixtures_dir / "cifar10-reference" / "resnet20-12fca82f.th"
    dest = cache_path("cifar10-resnet20")
    dest.parent.mkdir(parents=True)
    shutil.copy(src, dest)
    model = resnetlab.create_model("resnet20", pretrained="cifar10-resnet20")
    ref, _, _ = import_checkpoint(src, "cifar-reference")
    assert same_outputs(model, ref)
    tuned, report = load_pretrained("resnet20", "cifar10-resnet20", num_classes=2)
    assert tuned.fc.out_features == 2 and report.new == ["fc.weight", "fc.bias"]

    out = tmp_path / "r20.safetensors"
    assert main(["weights", "get", "cifar10-resnet20", "--offline", "--quiet",
                 "--out", str(out)]) == 0
    assert str(dest) in capsys.readouterr().out
    loaded, meta = load_model(out)
    assert same_outputs(loaded, ref)
    assert meta["dataset"] == "cifar10" and meta["weights"] == "cifar10-resnet20"
    assert meta["published_accuracy"] == CATALOG["cifar10-resnet20"].accuracy
    from PIL import Image

    img = tmp_path / "img.png"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(img)
    assert main(["predict", str(out), str(img), "-k", "1"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert any(f" {c} " in line for c in CATALOG["cifar10-resnet20"].classes), line


def test_evaluate_and_export_need_nothing_but_the_converted_file(fixtures_dir, tmp_path,
                                                                  monkeypatch, capsys):
    """cifar10-resnet20 written by `weights get --out`: evaluate finds its data set and
    classes in the file (a tiny CIFAR-10 stands in for the real one), export its input."""
    from datafiles import isolate, tiny_cifar

    dest = cache_path("cifar10-resnet20")
    dest.parent.mkdir(parents=True)
    shutil.copy(fixtures_dir / "cifar10-reference" / dest.name, dest)
    out = tmp_path / "r20.safetensors"
    assert main(["weights", "get", "cifar10-resnet20", "--offline", "--quiet",
                 "--out", str(out)]) == 0
    isolate(monkeypatch, tmp_path)
    tiny_cifar(tmp_path / "data", "bin", n=4)
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data-root", str(tmp_path / "data"), "--device", "cpu",
                 "--out", str(tmp_path / "eval"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["data"] == "cifar10" and result["n"] == 4
    assert result["classes"] == list(CATALOG["cifar10-resnet20"].classes)
    ts = tmp_path / "r20.pt"
    assert main(["export", str(out), "--format", "torchscript", "--out", str(ts), "--json"]) == 0
    from resnetlab.inference.export_formats import read_export_meta

    meta = read_export_meta(ts)
    assert meta["classes"][0] == "airplane" and meta["input_size"] == [3, 32, 32]
    assert meta["normalization"]["mean"] == [0.485, 0.456, 0.406]
