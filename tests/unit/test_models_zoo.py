"""Every registered network: shapes, gradients, exact sizes from the paper, bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import resnetlab
from resnetlab.models.blocks import PadShortcut
from resnetlab.models.stats import count_macs, count_params

# The paper's nets; the family after it has its own registry-driven file, test_models_family.py.
NAMES = [n for n in resnetlab.list_models()
         if resnetlab.get_spec(n).paper == "resnet" and not n.endswith("1202")]

PARAMS = {  # ../shared/PAPER.md, "Sizes" (CIFAR option A; ImageNet = torchvision)
    "resnet20": 269_722, "resnet32": 464_154, "resnet44": 658_586, "resnet56": 853_018,
    "resnet110": 1_727_962, "resnet1202": 19_421_274,
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808,
}
PAPER_MACS_V1 = {"resnet18": 1.8e9, "resnet34": 3.6e9, "resnet50": 3.8e9,
                 "resnet101": 7.6e9, "resnet152": 11.3e9}
TORCHVISION_MACS = {"resnet18": 1.814, "resnet34": 3.664, "resnet50": 4.089,
                    "resnet101": 7.801, "resnet152": 11.514}
CIFAR_MACS = {"resnet20": 40.55e6, "resnet32": 68.86e6, "resnet44": 97.17e6,
              "resnet56": 125.49e6, "resnet110": 252.89e6, "resnet1202": 2.83e9}


def flop_counter_macs(model: nn.Module, size: int) -> int:
    """torch's FlopCounterMode on the meta device: shapes only, no arithmetic."""
    model = model.to("meta").eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, size, size, device="meta"))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("name", NAMES)
def test_shape_and_every_parameter_gets_a_gradient(name):
    model = resnetlab.create_model(name, num_classes=7)
    size = 32  # ImageNet nets too: adaptive pooling takes any size >= 32
    x = torch.randn(2, 3, size, size)
    out = model(x)
    assert out.shape == (2, 7)
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing, f"no gradient reaches {missing[:5]}"


@pytest.mark.parametrize("name", list(PARAMS))
def test_exact_parameter_counts(name):
    assert count_params(resnetlab.create_model(name)) == PARAMS[name]


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_plain_twin_has_the_option_a_count(depth):
    plain = resnetlab.create_model(f"plain{depth}")
    res = resnetlab.create_model(f"resnet{depth}")
    assert count_params(plain) == count_params(res)
    assert not any(isinstance(m, PadShortcut) for m in plain.modules())


@pytest.mark.parametrize("name", list(PAPER_MACS_V1))
def test_imagenet_macs_match_table1_and_torchvision(name):
    paper = name if name in ("resnet18", "resnet34") else f"{name}_v1"  # the paper's v1
    v1 = flop_counter_macs(resnetlab.create_model(paper), 224)
    assert abs(v1 - PAPER_MACS_V1[name]) / PAPER_MACS_V1[name] < 0.03
    v15 = flop_counter_macs(resnetlab.create_model(name), 224)  # the ecosystem's meaning
    assert round(v15 / 1e9, 3) == TORCHVISION_MACS[name]
    # the hook-based counter behind `resnetlab models` agrees with the flop counter
    assert count_macs(resnetlab.create_model(paper).to("meta"), (1, 3, 224, 224)) == v1


@pytest.mark.parametrize("name", ["resnet20", "resnet56", "resnet110"])
def test_cifar_macs(name):
    macs = flop_counter_macs(resnetlab.create_model(name), 32)
    assert round(macs / 1e6, 2) == CIFAR_MACS[name] / 1e6


def test_resnet1202_builds_counts_and_runs():
    model = resnetlab.create_model("resnet1202")
    assert count_params(model) == PARAMS["resnet1202"]
    assert abs(count_macs(model, (1, 3, 32, 32)) - 2.83e9) / 2.83e9 < 0.005
    # Train-mode BN: at init, eval-mode statistics (mean 0, var 1) let 600 additions of
    # unit-variance branches overflow, which is the arithmetic, not a bug.
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["resnet20", "resnet18", "resnet50"])
def test_option_a_adds_no_parameters_and_c_projects_every_block(name):
    a = resnetlab.create_model(name, shortcut="A")
    b = resnetlab.create_model(name, shortcut="B")
    c = resnetlab.create_model(name, shortcut="C")
    blocks = a.blocks()
    convs_in_blocks = sum(
        p.numel() for blk in blocks for n, p in blk.named_parameters()
        if not n.startswith("downsample")
    )
    stem_fc = count_params(a) - convs_in_blocks
    assert not any(n.startswith("downsample") or ".downsample." in n
                   for n, _ in a.named_parameters())
    assert stem_fc == sum(p.numel() for n, p in a.named_parameters() if "layer" not in n)
    assert count_params(a) < count_params(b) < count_params(c)
    assert all(blk.downsample is not None and isinstance(blk.downsample, nn.Sequential)
               for blk in c.blocks())
    grows = [blk for blk in b.blocks() if blk.downsample is not None]
    assert 0 < len(grows) < len(b.blocks())


def test_option_a_pads_evenly_and_subsamples():
    pad = PadShortcut(16, 32, 2)
    x = torch.arange(2 * 16 * 4 * 4, dtype=torch.float32).reshape(2, 16, 4, 4)
    y = pad(x)
    assert y.shape == (2, 32, 2, 2)
    assert torch.equal(y[:, 8:24], x[:, :, ::2, ::2])
    assert not y[:, :8].any() and not y[:, 24:].any()


def test_v1_and_v15_have_the_same_parameters_but_compute_differently():
    from resnetlab.models.resnet import V1_MARKER

    torch.manual_seed(0)
    v1 = resnetlab.create_model("resnet50_v1")  # the paper's
    v15 = resnetlab.create_model("resnet50")  # torchvision's and timm's meaning of the name
    assert resnetlab.create_model("resnet50", stride_in_1x1=True).state_dict().keys() == \
        v1.state_dict().keys()
    assert [(n, p.shape) for n, p in v1.named_parameters()] == \
        [(n, p.shape) for n, p in v15.named_parameters()]
    # the same parameters, other outputs: a strict load between the two forms fails loudly
    assert set(v1.state_dict()) - set(v15.state_dict()) == {V1_MARKER}
    with pytest.raises(RuntimeError, match=V1_MARKER):
        v15.load_state_dict(v1.state_dict())
    with pytest.raises(RuntimeError, match=V1_MARKER):
        v1.load_state_dict(v15.state_dict())
    v15.load_state_dict({k: v for k, v in v1.state_dict().items() if k != V1_MARKER})
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(v1.eval()(x), v15.eval()(x))
    assert v1.layer2[0].conv1.stride == (2, 2) and v1.layer2[0].conv2.stride == (1, 1)
    assert v15.layer2[0].conv1.stride == (1, 1) and v15.layer2[0].conv2.stride == (2, 2)
    assert resnetlab.get_spec("resnet50_v1").paper_error is not None
    assert resnetlab.get_spec("resnet50").paper_error is None  # the paper measured v1


@pytest.mark.parametrize("name", ["resnet200", "resnet26"])
def test_names_that_mean_an_imagenet_net_elsewhere_are_refused_with_the_name_to_use(name):
    with pytest.raises(ValueError, match=f"ImageNet net.*say {name}_cifar"):
        resnetlab.create_model(name)
    spec = resnetlab.get_spec(f"{name}_cifar")
    assert spec.dataset == "cifar" and spec.depth == int(name[6:])


def test_overrides_in_chans_and_zero_init():
    model = resnetlab.create_model("resnet20", in_chans=1, num_classes=3, zero_init_residual=True)
    assert model.conv1.weight.shape[1] == 1
    assert all(blk.bn2.weight.abs().sum() == 0 for blk in model.blocks())
    # with every branch zeroed, an identity-shortcut block passes relu(x) through
    blk = model.layer1[1].eval()
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert torch.allclose(blk(x), torch.relu(x))


def test_he_init_and_bn_init():
    model = resnetlab.create_model("resnet56")
    w = model.layer3[4].conv2.weight
    fan_out = w.shape[0] * w.shape[2] * w.shape[3]
    assert abs(w.std().item() - (2 / fan_out) ** 0.5) / (2 / fan_out) ** 0.5 < 0.05
    bn = model.layer2[0].bn1
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)


def test_norm_layer_override_is_a_callable():
    model = resnetlab.create_model("resnet20", norm_layer=lambda c: nn.GroupNorm(4, c))
    assert isinstance(model.bn1, nn.GroupNorm)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_any_cifar_depth_6n_plus_2():
    model = resnetlab.create_model("resnet8")
    assert [len(getattr(model, f"layer{i}")) for i in (1, 2, 3)] == [1, 1, 1]
    assert resnetlab.get_spec("plain14").layers == (2, 2, 2)


def test_registry_lists_with_wildcards_and_refuses_duplicates():
    assert resnetlab.list_models("plain??") == ["plain20", "plain32", "plain44", "plain56",
                                                "plain18", "plain34", "plain50"]
    assert resnetlab.list_models("*_v1") == ["resnet50_v1", "resnet101_v1", "resnet152_v1",
                                             "plain50_v1"]
    assert "resnet1202" in resnetlab.list_models("resnet*")
    with pytest.raises(ValueError, match="already registered"):
        from resnetlab.models.registry import register
        register(resnetlab.get_spec("resnet20"))


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("resnet5O", {}, "did you mean .*resnet50"),
        ("resnet21", {}, "6n\\+2"),
        ("resnet20", {"shortcut": "D"}, "unknown shortcut 'D'"),
        ("resnet20", {"num_classes": 0}, "num_classes must be >= 1"),
        ("resnet20", {"dropblock": 0.1}, "unknown override"),
        ("resnet20", {"dropout:0.1": None}, "YAML needs a space after the colon"),
        ("plain20", {"shortcut": "B"}, "plain net"),
    ],
)
def test_bad_input_is_a_clear_value_error(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        resnetlab.create_model(name, **kwargs)
