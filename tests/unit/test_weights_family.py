"""The family's published weights (torchvision's Wide/ResNeXt, timm's resnet50d/seresnet50):
their layout loads strictly and computes the reference's logits, and by name they are fetched,
verified and resumed from local files the tests make."""

import hashlib
from dataclasses import replace

import pytest
import torch
from refnets import CONFIGS, RefResNet, reference
from weightfiles import FolderServer, isolated  # noqa: F401 (autouse fixture)

from resnetlab.models.convert import convert_state_dict, load_weights
from resnetlab.models.registry import build_model as build
from resnetlab.weights import catalog, list_weights, load_pretrained

FAMILY = [w for w in list_weights() if w.model in CONFIGS]
FAST = ["wide_resnet50_2", "resnext50_32x4d", "resnet50d", "seresnet50"]


def test_every_family_net_with_weights_has_a_reference():
    assert {w.model for w in FAMILY} == set(CONFIGS)
    assert len(FAMILY) == 11  # 4 torchvision nets x V1/V2, resnext101_64x4d, 2 timm


@pytest.mark.parametrize("w", FAMILY, ids=lambda w: w.name)
def test_entry_layout_and_parameter_count_match_the_publisher(w):
    """Same tensor names and shapes as the publisher's layout, and its parameter count (the
    nets are built on the meta device: no memory, no time)."""
    with torch.device("meta"):
        ours = build(w.model, **w.overrides)
        ref = RefResNet(**CONFIGS[w.model]).state_dict()
    assert sum(p.numel() for p in ours.parameters()) == w.num_params
    # torchvision's and timm's ResNet names are resnetlab's: the converter renames nothing
    # here (it only strips wrappers' prefixes), so the layouts compare as they are.
    mine = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert mine == {k: tuple(v.shape) for k, v in ref.items()}


def logits_gap(name, source, size=64, seed=0):
    ref = reference(name, seed)
    with torch.device("meta"):  # every tensor comes from the reference: skip the He init
        ours = build(name, stride_in_1x1=False)
    state = convert_state_dict(ref.state_dict(), source)
    load_weights(ours.to_empty(device="cpu"), state, what=name)
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        a, b = ref(x), ours.eval()(x)
    return float((a - b).abs().max()), float(a.abs().max())


@pytest.mark.parametrize("name", FAST)
def test_logits_equal_the_reference_at_1e_4(name):
    source = "timm" if name in ("resnet50d", "seresnet50") else "torchvision"
    gap, scale = logits_gap(name, source)
    assert scale > 0.1  # the logits are not all ~0: the comparison means something
    assert gap <= 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("name", ["wide_resnet101_2", "resnext101_32x8d", "resnext101_64x4d"])
def test_logits_of_the_101s_equal_the_reference_at_1e_4(name):
    gap, scale = logits_gap(name, "torchvision", size=32)
    assert scale > 0.1 and gap <= 1e-4


def publish(tmp_path, monkeypatch, name):
    """The entry NAME with its publisher's file made here from the reference (checksum = the
    file's own), in a 'publisher' folder: (entry, reference net, folder)."""
    w = catalog.get_weights(name)
    ref = reference(w.model)
    folder = tmp_path / "publisher"
    folder.mkdir()
    torch.save(ref.state_dict(), folder / w.filename)
    digest = hashlib.sha256((folder / w.filename).read_bytes()).hexdigest()[:8]
    entry = replace(w, checksum=digest)
    monkeypatch.setitem(catalog.CATALOG, w.name, entry)
    return entry, ref, folder


@pytest.mark.parametrize("name", ["tv-resnext50_32x4d-v2", "timm-resnet50d-ra2"])
def test_by_name_from_a_mirror_gives_the_reference_logits(tmp_path, monkeypatch, name):
    w, ref, folder = publish(tmp_path, monkeypatch, name)
    monkeypatch.setenv("RESNETLAB_WEIGHTS_URL", folder.as_uri())
    model, report = load_pretrained(w.model, True, progress=False)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert float((model.eval()(x) - ref(x)).abs().max()) <= 1e-4
    assert report.new == [] and len(report.meta["classes"]) == 1000
    assert report.meta["published_accuracy"] == w.accuracy


def test_a_wrong_file_is_refused_and_an_interrupted_download_resumes(tmp_path, monkeypatch):
    w, ref, folder = publish(tmp_path, monkeypatch, "tv-resnext50_32x4d-v1")
    server = FolderServer(folder)
    monkeypatch.setenv("RESNETLAB_WEIGHTS_URL", server.url)
    try:
        server.cut_first = True
        model, _ = load_pretrained("resnext50_32x4d", w.name, progress=False)
        size = (folder / w.filename).stat().st_size
        assert server.requests == [(f"/{w.filename}", None),
                                   (f"/{w.filename}", f"bytes={size // 2}-")]
        assert torch.equal(model.conv1.weight, ref.conv1.weight)
    finally:
        server.close()
    other = replace(w, checksum="00000000")
    monkeypatch.setitem(catalog.CATALOG, w.name, other)
    (tmp_path / "cache" / w.filename).unlink()
    monkeypatch.setenv("RESNETLAB_WEIGHTS_URL", folder.as_uri())
    with pytest.raises(ValueError, match="checksum mismatch for tv-resnext50_32x4d-v1"):
        load_pretrained("resnext50_32x4d", w.name, progress=False)


def test_weights_get_out_writes_a_model_file_with_the_publishers_facts(tmp_path, monkeypatch):
    from resnetlab.checkpoint import load_model
    from resnetlab.cli import main

    w, ref, folder = publish(tmp_path, monkeypatch, "timm-seresnet50-ra2")
    monkeypatch.setenv("RESNETLAB_WEIGHTS_URL", folder.as_uri())
    out = tmp_path / "se50.safetensors"
    assert main(["weights", "get", w.name, "--out", str(out)]) == 0
    model, meta = load_model(out)
    assert meta["model"] == "seresnet50" and meta["source"] == "timm"
    assert meta["crop_pct"] == 0.875 and len(meta["classes"]) == 1000
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert float((model(x) - ref(x)).abs().max()) <= 1e-4
