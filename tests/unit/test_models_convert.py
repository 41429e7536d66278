"""Checkpoint import: Idelbayev's CIFAR nets, torchvision's layout, errors that name problems."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import resnetlab
from resnetlab.checkpoint import load_model, read_meta, save_model
from resnetlab.cli import main
from resnetlab.models.convert import (
    convert_state_dict,
    infer_architecture,
    load_weights,
    read_state_dict,
)


class RefBlock(nn.Module):
    """Idelbayev's pytorch_resnet_cifar10 BasicBlock, option A, written independently."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = stride != 1 or in_planes != planes
        self.planes = planes

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.pad:
            q = self.planes // 4
            x = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, q, q), "constant", 0)
        return F.relu(out + x)


class RefResNet(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, inp = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                blocks.append(RefBlock(inp, planes, stride if i == 0 else 1))
                inp = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3])
        return self.linear(out.view(out.size(0), -1))


@pytest.mark.parametrize("fname, n", [("resnet20-12fca82f.th", 3), ("resnet56-4bfd9763.th", 9)])
def test_reference_checkpoints_give_the_reference_logits(fixtures_dir, fname, n):
    path = fixtures_dir / "cifar10-reference" / fname
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert set(raw) == {"state_dict", "best_prec1"}
    ref = RefResNet(n)
    ref.load_state_dict({k.removeprefix("module."): v for k, v in raw["state_dict"].items()},
                        strict=False)
    model, name, overrides = resnetlab.import_checkpoint(path, "cifar-reference")
    assert name == f"resnet{6 * n + 2}" and overrides == {"num_classes": 10, "in_chans": 3}
    torch.manual_seed(0)
    x = torch.randn(16, 3, 32, 32)
    with torch.no_grad():
        expected = ref.eval()(x)
        got = model.eval()(x)
    assert torch.allclose(got, expected, atol=1e-5, rtol=0)
    assert (got.argmax(1) == expected.argmax(1)).all()


def test_convert_cli_writes_safetensors_that_load_model_reads(fixtures_dir, tmp_path):
    src = fixtures_dir / "cifar10-reference" / "resnet20-12fca82f.th"
    out = tmp_path / "r20.safetensors"
    assert main(["convert", str(src), str(out), "--source", "cifar-reference"]) == 0
    meta = read_meta(out)
    assert meta["model"] == "resnet20"
    model, _ = load_model(out)
    ref, _, _ = resnetlab.import_checkpoint(src, "cifar-reference")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), ref.eval()(x))


class TorchvisionBottleneck(nn.Module):
    """torchvision's v1.5 Bottleneck (stride in the 3x3), written independently."""

    def __init__(self, inplanes, planes, stride, down):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = down

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        idt = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + idt)


def torchvision_resnet50():
    m = nn.Module()
    m.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
    m.bn1 = nn.BatchNorm2d(64)
    inp = 64
    for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
        layer = []
        for j in range(blocks):
            stride = 2 if i > 0 and j == 0 else 1
            down = None
            if j == 0:
                down = nn.Sequential(nn.Conv2d(inp, planes * 4, 1, stride, bias=False),
                                     nn.BatchNorm2d(planes * 4))
            layer.append(TorchvisionBottleneck(inp, planes, stride, down))
            inp = planes * 4
        setattr(m, f"layer{i + 1}", nn.Sequential(*layer))
    m.fc = nn.Linear(2048, 1000)

    def forward(x):
        x = F.max_pool2d(F.relu(m.bn1(m.conv1(x))), 3, 2, 1)
        for i in range(1, 5):
            x = getattr(m, f"layer{i}")(x)
        return m.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    m.forward = forward
    return m


def test_torchvision_layout_loads_strictly_into_v15_and_outputs_match(tmp_path):
    torch.manual_seed(0)
    tv = torchvision_resnet50()
    for mod in tv.modules():  # non-trivial BN statistics, so that a mix-up would show
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.0)
    path = tmp_path / "resnet50-torchvision.pth"
    torch.save({"model": tv.state_dict()}, path)
    model, name, overrides = resnetlab.import_checkpoint(path, "torchvision")
    assert name == "resnet50" and overrides["stride_in_1x1"] is False
    x = torch.randn(2, 3, 64, 64)
    tv.eval()
    with torch.no_grad():
        assert torch.allclose(model.eval()(x), tv.forward(x), atol=1e-5)


def test_prefixes_of_wrappers_are_stripped():
    sd = resnetlab.create_model("resnet20").state_dict()
    wrapped = {f"module._orig_mod.{k}": v for k, v in sd.items()}
    assert set(convert_state_dict(wrapped, "timm")) == set(sd)


def test_infer_architecture_finds_shortcut_options():
    for sc in "ABC":
        sd = resnetlab.create_model("resnet32", shortcut=sc, num_classes=100).state_dict()
        name, over = infer_architecture(sd)
        assert name == "resnet32" and over["num_classes"] == 100
        assert over.get("shortcut", "A") == sc
    name, over = infer_architecture(resnetlab.create_model("resnet34", shortcut="A").state_dict())
    assert (name, over["shortcut"]) == ("resnet34", "A")


def test_mismatched_checkpoint_names_the_first_mismatches():
    sd = resnetlab.create_model("resnet32").state_dict()
    first = r"72 missing \(first: layer1\.5\.conv1\.weight.*another architecture"
    with pytest.raises(ValueError, match=first):
        load_weights(resnetlab.create_model("resnet44"), sd, what="x.pth")
    sd100 = resnetlab.create_model("resnet20", num_classes=100).state_dict()
    with pytest.raises(ValueError, match=r"fc\.weight: checkpoint \(100, 64\) vs model \(10, 64\)"):
        load_weights(resnetlab.create_model("resnet20"), sd100)


def test_files_that_are_not_state_dicts(tmp_path):
    p = tmp_path / "list.pt"
    torch.save([1, 2, 3], p)
    with pytest.raises(ValueError, match="not a state dict"):
        read_state_dict(p)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        read_state_dict(tmp_path / "nope.pth")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 20)
    with pytest.raises(ValueError, match="bad.safetensors"):
        read_state_dict(bad)


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_pickled_code_never_runs(tmp_path):
    victim = tmp_path / "created-by-pickle"
    p = tmp_path / "evil.pth"
    with open(p, "wb") as f:
        pickle.dump({"state_dict": _Evil(str(victim))}, f)
    with pytest.raises(ValueError, match="weights-only"):
        read_state_dict(p)
    assert not victim.exists()


def test_save_and_load_model_round_trip_atomically(tmp_path):
    model = resnetlab.create_model("resnet8", num_classes=4, in_chans=1)
    meta = {"model": "resnet8", "overrides": {"num_classes": 4, "in_chans": 1},
            "classes": list("abcd")}
    path = save_model(tmp_path / "run", model, meta)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["model.json",
                                                                     "model.safetensors"]
    loaded, meta2 = load_model(tmp_path / "run")
    assert meta2["classes"] == list("abcd") and "torch" in meta2["versions"]
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))
    assert json.loads(path.with_suffix(".json").read_text())["model"] == "resnet8"
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # as open() makes it, not 0600
    with pytest.raises(ValueError, match="does not fit"):
        meta_bad = dict(meta, overrides={"num_classes": 5, "in_chans": 1})
        path.with_suffix(".json").write_text(json.dumps(meta_bad))
        load_model(path)


def test_torchvision_weights_and_the_papers_v1_never_mix_silently(tmp_path):
    """The issue-14 trap: v1 and v1.5 share every parameter name; a load between them must
    fail, in plain torch and through resnetlab, while resnet50 takes torchvision's exactly."""
    from resnetlab.models.resnet import V1_MARKER

    torch.manual_seed(0)
    tv = torchvision_resnet50()
    paper = resnetlab.create_model("resnet50_v1")
    with pytest.raises(RuntimeError, match=V1_MARKER):
        tv.load_state_dict(paper.state_dict())
    with pytest.raises(RuntimeError, match=V1_MARKER):
        paper.load_state_dict(tv.state_dict())
    ours = resnetlab.create_model("resnet50")
    ours.load_state_dict(tv.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours.eval()(x), tv.eval().forward(x), atol=1e-5)
    path = tmp_path / "tv.pth"
    torch.save(tv.state_dict(), path)
    with pytest.raises(ValueError, match="load them into 'resnet50'"):
        resnetlab.import_checkpoint(path, "torchvision", model_name="resnet50_v1")
    assert infer_architecture(paper.state_dict())[0] == "resnet50_v1"


def test_a_model_file_from_before_the_rename_still_loads_as_the_v1_it_was(tmp_path):
    """Files written when `resnet50` meant v1 name it without stride_in_1x1 or marker."""
    import json

    from safetensors.torch import save_file

    from resnetlab.checkpoint import load_model, save_model
    from resnetlab.models.resnet import V1_MARKER

    torch.manual_seed(0)
    v1 = resnetlab.create_model("resnet50_v1", num_classes=3).eval()
    old = tmp_path / "old.safetensors"
    state = {k: v.contiguous() for k, v in v1.state_dict().items() if k != V1_MARKER}
    meta = {"model": "resnet50", "overrides": {"num_classes": 3}}
    save_file(state, str(old), metadata={"resnetlab": json.dumps(meta)})
    old.with_suffix(".json").write_text(json.dumps(meta))
    model, meta = load_model(old)
    assert meta["overrides"]["stride_in_1x1"] is True and model.pretrained_cfg is meta
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), v1(x))
    # new files state the form: resnet50 saved now is v1.5, and reads back as v1.5
    save_model(tmp_path / "new.safetensors", resnetlab.create_model("resnet50"),
               {"model": "resnet50"})
    assert load_model(tmp_path / "new.safetensors")[1]["overrides"]["stride_in_1x1"] is False
