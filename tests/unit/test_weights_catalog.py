"""The catalogue of published weights, and `resnetlab weights list`."""

import json
import re

import pytest
import torch

from resnetlab import create_model, get_spec
from resnetlab.cli import main
from resnetlab.models.convert import source_architecture
from resnetlab.weights import (
    CATALOG,
    cache_dir,
    default_weights,
    get_weights,
    imagenet_classes,
    list_weights,
)
from resnetlab.weights.cache import sha256sum


def test_the_issue_names_are_there():
    names = set(CATALOG)
    assert {f"tv-resnet{d}-v1" for d in (18, 34, 50, 101, 152)} <= names
    assert {f"tv-resnet{d}-v2" for d in (50, 101, 152)} <= names  # torchvision has no V2 18/34
    assert {f"cifar10-resnet{d}" for d in (20, 32, 44, 56, 110, 1202)} <= names
    family = {f"tv-{m}-v{v}" for m in ("wide_resnet50_2", "wide_resnet101_2", "resnext50_32x4d",
                                        "resnext101_32x8d") for v in (1, 2)}
    assert family | {"tv-resnext101_64x4d-v1", "timm-resnet50d-ra2",
                     "timm-seresnet50-ra2"} <= names


@pytest.mark.parametrize("w", list_weights(), ids=lambda w: w.name)
def test_every_entry_is_complete_and_consistent(w):
    assert re.fullmatch(r"[0-9a-f]{8}", w.checksum) and f"-{w.checksum}." in w.filename
    assert w.url.startswith("https://")
    spec = get_spec(w.model)
    assert len(w.classes) == w.num_classes == spec.kwargs["num_classes"]
    assert w.input_size == (3, spec.resolution, spec.resolution)
    assert len(w.normalization["mean"]) == len(w.normalization["std"]) == 3
    assert 50 < w.accuracy["top1"] < 100 and w.accuracy_source
    if w.source in ("torchvision", "timm"):
        assert (w.overrides.get("stride_in_1x1") is False) == (spec.block == "bottleneck")
        assert 0.8 < w.crop_pct < 1 and w.dataset == "imagenet-1k"
    else:
        assert w.source == "cifar-reference" and w.dataset == "cifar10"
    meta = w.meta()
    assert meta["model"] == w.model and len(meta["classes"]) == w.num_classes


def test_published_numbers_as_given():
    assert get_weights("tv-resnet50-v2").accuracy == {"top1": 80.858, "top5": 95.434}
    assert get_weights("tv-resnet50-v2").crop_pct == round(224 / 232, 4)
    assert get_weights("cifar10-resnet20").accuracy == {"top1": 91.73}
    assert get_weights("tv-resnet18-v1").url == \
        "https://download.pytorch.org/models/resnet18-f37072fd.pth"


def test_family_numbers_as_published():
    w = get_weights("tv-resnext101_64x4d-v1")  # its only file: the new recipe, resize 232
    assert w.accuracy == {"top1": 83.246, "top5": 96.454} and w.crop_pct == round(224 / 232, 4)
    assert w.url == "https://download.pytorch.org/models/resnext101_64x4d-173b62eb.pth"
    assert get_weights("tv-wide_resnet50_2-v1").crop_pct == round(224 / 256, 4)
    assert get_weights("tv-wide_resnet101_2").name == "tv-wide_resnet101_2-v2"
    t = get_weights("timm-resnet50d")
    assert t.name == "timm-resnet50d-ra2" and t.checksum == "464e36ba" and t.crop_pct == 0.875
    assert t.url.endswith("/v0.1-weights/resnet50d_ra2-464e36ba.pth")
    assert get_weights("timm-seresnet50-ra2").accuracy == {"top1": 80.26, "top5": 95.07}
    assert default_weights("seresnet50").source == "timm"


def test_defaults_and_aliases():
    assert default_weights("resnet50").name == "tv-resnet50-v2"  # torchvision's DEFAULT
    assert default_weights("resnet18").name == "tv-resnet18-v1"
    assert default_weights("resnet56").name == "cifar10-resnet56"
    assert get_weights("tv-resnet101").name == "tv-resnet101-v2"
    with pytest.raises(ValueError, match="no published weights for 'resnet8'"):
        default_weights("resnet8")


def test_unknown_name_lists_the_close_ones():
    with pytest.raises(ValueError, match="unknown weights 'cifar10-resnet2'; did you mean") as e:
        get_weights("cifar10-resnet2")
    assert "cifar10-resnet20" in str(e.value) and "cifar10-resnet32" in str(e.value)
    with pytest.raises(ValueError, match="tv-resnet50-v2"):
        get_weights("tv_resnet50_v2")


def test_imagenet_classes_are_the_packaged_list():
    names = imagenet_classes()
    assert len(names) == len(set(names)) == 1000
    assert names[0] == "tench" and names[-1] == "toilet tissue"


def test_shared_fixtures_match_the_published_checksums(fixtures_dir):
    for name in ("cifar10-resnet20", "cifar10-resnet56"):
        w = get_weights(name)
        path = fixtures_dir / "cifar10-reference" / w.filename
        assert sha256sum(path).startswith(w.checksum)


def test_cli_list_table_and_json(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNETLAB_CACHE", str(tmp_path))
    (tmp_path / get_weights("cifar10-resnet20").filename).write_bytes(b"x")
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "tv-resnet50-v2" in out and "resnet50 (v1.5)" in out and str(cache_dir()) in out
    assert main(["weights", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(CATALOG)
    r20 = rows["cifar10-resnet20"]
    assert r20["cached"] is True and r20["checksum"] == "12fca82f"
    assert r20["normalization"]["mean"] == [0.485, 0.456, 0.406]
    assert rows["tv-resnet50-v1"]["overrides"]["stride_in_1x1"] is False


def test_cli_get_unknown_name_fails_with_suggestions(capsys):
    assert main(["weights", "get", "tv-resnet5"]) == 2
    assert "did you mean tv-resnet50" in capsys.readouterr().err


@pytest.mark.parametrize("w", list_weights(), ids=lambda w: w.name)
def test_declared_architecture_is_what_the_converter_infers(w):
    """Tensor names and shapes of the declared model (built on the meta device: no memory)
    give back the declared model and overrides, as a real file of that layout would."""
    with torch.device("meta"):
        model = create_model(w.model, **w.overrides)
    assert source_architecture(model.state_dict(), w.source) == (w.model, w.overrides)
