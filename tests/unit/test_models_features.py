"""Features for analysis, and the model under channels_last, bf16, script, export, compile."""

from __future__ import annotations

import json

import pytest
import torch

import resnetlab
from resnetlab.cli import main
from resnetlab.models.stats import collect_responses, response_layers


def test_forward_features_and_head_compose_to_forward():
    model = resnetlab.create_model("resnet20").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape == (2, 64, 8, 8)
        assert model.forward_head(feats, pre_logits=True).shape == (2, 64)
        assert torch.equal(model.forward_head(feats), model(x))


@pytest.mark.parametrize("name, n3x3", [("resnet20", 19), ("plain56", 55), ("resnet50", 16),
                                         ("resnet50d", 16), ("seresnet50", 16)])
def test_response_layers_are_the_bns_after_3x3_convs(name, n3x3):
    assert len(response_layers(resnetlab.create_model(name), "3x3")) == n3x3


def test_pre_activation_nets_have_no_fig7_responses_and_say_so():
    with pytest.raises(ValueError, match="pre-activation net's BNs normalise each block's input"):
        response_layers(resnetlab.create_model("preact_resnet20"))


def test_branch_responses_are_taken_before_the_addition():
    torch.manual_seed(0)
    model = resnetlab.create_model("resnet8").eval()
    x = torch.randn(3, 3, 32, 32)
    logits, resp = collect_responses(model, x, kind="branch")
    assert list(resp) == ["layer1.0.bn2", "layer2.0.bn2", "layer3.0.bn2"]
    with torch.no_grad():
        assert torch.equal(logits, model(x))
        stem = model.relu(model.bn1(model.conv1(x)))
        blk = model.layer1[0]
        branch = blk.bn2(blk.conv2(blk.relu(blk.bn1(blk.conv1(stem)))))
    assert torch.allclose(resp["layer1.0.bn2"], branch)
    assert (resp["layer1.0.bn2"] < 0).any(), "a response after ReLU would have no negatives"


def test_channels_last_and_bf16_autocast_match_fp32():
    torch.manual_seed(0)
    model = resnetlab.create_model("resnet20").eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)
        cl = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf = model(x)
    assert torch.allclose(cl, ref, atol=1e-4)
    assert bf.dtype == torch.bfloat16
    assert torch.allclose(bf.float(), ref, atol=0.1 * ref.abs().max().item())


@pytest.mark.parametrize("name, overrides", [
    ("resnet8", {}), ("plain8", {}), ("resnet50", {}), ("preact_resnet20", {}),
    ("resnet18d", {"drop_path_rate": 0.1, "block_args": {"attn_layer": "se"}})])
def test_torchscript_and_torch_export(name, overrides):
    model = resnetlab.create_model(name, **overrides).eval()
    size = 32 if name.endswith("8") else 64
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        ref = model(x)
        scripted = torch.jit.script(model)
        assert torch.allclose(scripted(x), ref, atol=1e-5)
        exported = torch.export.export(model, (x,))
        assert torch.allclose(exported.module()(x), ref, atol=1e-5)


@pytest.mark.slow
def test_torch_compile_trains_like_eager():
    torch.manual_seed(0)
    model = resnetlab.create_model("resnet8")
    compiled = torch.compile(model)
    x = torch.randn(4, 3, 32, 32)
    out = compiled(x)
    out.sum().backward()
    assert torch.allclose(out, model(x), atol=1e-4)
    assert all(p.grad is not None for p in model.parameters())


def test_models_cli_table_and_json(capsys):
    assert main(["models", "resnet2?", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["resnet20"]
    row = rows[0]
    assert row["params"] == 269_722 and row["macs"] == 40_551_040
    assert row["paper_error"] == 8.75 and row["shortcut"] == "A" and row["block"] == "basic"
    assert main(["models", "plain5?"]) == 0
    out = capsys.readouterr().out
    assert "plain56" in out and "plain50" in out and "853,018" in out
    assert main(["models", "nothing*"]) == 2
    assert "no model matches" in capsys.readouterr().err
