"""The family after the paper (issue 21): pre-activation, Wide, ResNeXt, SE, ResNet-C/D, drop-path,
dropout and backbones. Counts are taken on the meta device (shapes only), so even the 127M-param
nets cost nothing; forwards run on a sample of every family at small inputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import resnetlab
from resnetlab.models.drop_path import DropPath, drop_path_rates
from resnetlab.models.registry import get_spec, list_models
from resnetlab.models.stats import count_params

# Counted from this layout; exact against torchvision's / timm's where the name is theirs
# (torchvision's docs and timm's results tables print the same to their precision).
PARAMS = {
    "preact_resnet20": 272_282, "preact_resnet110": 1_730_522, "preact_resnet1202": 19_423_834,
    "preact_resnet164": 1_703_258, "preact_resnet1001": 10_327_706,
    "wrn28_10": 36_479_194, "wrn40_4": 8_949_210, "wrn16_8": 10_961_370,
    "resnext29_8x64d": 34_426_698, "resnext29_16x64d": 68_155_210,
    "resnetv2_50": 25_549_352, "resnetv2_101": 44_541_480, "resnetv2_152": 60_185_128,
    "resnet50c": 25_576_264, "resnet101c": 44_568_392, "resnet152c": 60_212_040,
    "resnet18d": 11_708_744, "resnet34d": 21_816_904, "resnet50d": 25_576_264,
    "resnet101d": 44_568_392, "resnet152d": 60_212_040,
    "wide_resnet50_2": 68_883_240, "wide_resnet101_2": 126_886_696,
    "resnext50_32x4d": 25_028_904, "resnext101_32x8d": 88_791_336,
    "resnext101_64x4d": 83_455_272,
    "seresnet50": 28_088_024, "seresnet101": 49_326_872, "seresnet152": 66_821_848,
}
# The paper's figure counts conv and fc weights only (see models/papers.py).
PAPER_COUNTS_WITHOUT_BN = {"preact_resnet1001"}
# One net per family and data set, small enough to run forwards in a second on a busy CPU:
# the CIFAR families at shallow depths of the same rule (any depth builds), ImageNet at 32 px.
SAMPLE = ["preact_resnet20", "preact_resnet29", "wrn10_2", "resnext11_2x16d", "resnet20",
          "resnetv2_50", "resnet50d", "resnet18d", "wide_resnet50_2", "resnext50_32x4d",
          "seresnet50", "resnet18"]


def meta_model(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return resnetlab.create_model(name, **kwargs)


@pytest.mark.parametrize("name", list(PARAMS))
def test_exact_parameter_counts(name):
    assert count_params(meta_model(name)) == PARAMS[name]


@pytest.mark.parametrize("name", list_models())
def test_every_name_builds_and_has_its_sources_count(name):
    spec = get_spec(name)
    model = meta_model(name)
    n = count_params(model)
    if spec.params_source in ("torchvision", "timm"):
        assert n == spec.params
    elif spec.params is not None:  # quoted from a paper, rounded: within 1%
        if name in PAPER_COUNTS_WITHOUT_BN:
            n = sum(p.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))
                    for p in m.parameters())
        assert abs(n - spec.params) / spec.params < 0.01, (n, spec.params)
    assert spec.family and spec.paper


def test_the_family_lists_with_wildcards_and_carries_its_papers():
    assert list_models("preact*") == [f"preact_resnet{d}" for d in
                                      (20, 32, 44, 56, 110, 164, 1001, 1202)]
    assert list_models("wrn*") == ["wrn16_8", "wrn28_10", "wrn40_4"]
    assert list_models("resnext*") == ["resnext29_8x64d", "resnext29_16x64d", "resnext50_32x4d",
                                       "resnext101_32x8d", "resnext101_64x4d"]
    assert list_models("seresnet*") == ["seresnet50", "seresnet101", "seresnet152"]
    for name, err in [("preact_resnet164", 5.46), ("preact_resnet1001", 4.92),
                      ("wrn28_10", 3.89), ("resnext29_8x64d", 3.65),
                      ("resnext29_16x64d", 3.58)]:
        spec = get_spec(name)
        assert spec.paper_error == err and spec.dataset == "cifar" and "Table" in spec.paper_source
    assert get_spec("preact_resnet164").block == "preact_bottleneck"
    assert get_spec("preact_resnet110").block == "preact_basic"
    assert get_spec("resnet50d").family == "resnet-d" and get_spec("resnet50d").paper == "tricks"


@pytest.mark.parametrize("name", SAMPLE)
def test_shape_and_every_parameter_gets_a_gradient(name):
    torch.manual_seed(0)
    model = resnetlab.create_model(name, num_classes=5, drop_path_rate=0.1, dropout=0.1)
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 5)
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing, f"no gradient reaches {missing[:5]}"


@pytest.mark.parametrize("name", SAMPLE)
def test_features_only_lists_the_channels_and_strides_it_returns(name):
    size = 32
    backbone = meta_model(name, features_only=True, out_indices=None)
    stages = 3 if get_spec(name).dataset == "cifar" else 4
    assert backbone.out_indices == list(range(1, stages + 1))
    every = resnetlab.create_model(name, features_only=True,
                                   out_indices=tuple(range(stages + 1))).eval()
    with torch.no_grad():
        feats = every(torch.randn(1, 3, size, size))
        assert [f.shape[1] for f in feats] == every.feature_info.channels()
        assert [size // f.shape[-1] for f in feats] == every.feature_info.reduction()
        # the last map is what the classifier pools: the full net's forward_features
        full = resnetlab.create_model(name).eval()
        full.load_state_dict(every.state_dict(), strict=False)
        x = torch.randn(1, 3, size, size)
        assert torch.allclose(every(x)[-1], full.forward_features(x), atol=1e-5)
    assert not any(k.startswith("fc.") for k in every.state_dict())


def test_imagenet_backbone_strides_are_4_8_16_32_and_cifar_1_2_4():
    r50 = meta_model("resnet50", features_only=True, out_indices=(1, 2, 3, 4))
    assert r50.feature_info.reduction() == [4, 8, 16, 32]
    assert r50.feature_info.channels() == [256, 512, 1024, 2048]
    wrn = meta_model("wrn28_10", features_only=True, out_indices=(0, 1, 2, 3))
    assert wrn.feature_info.reduction() == [1, 1, 2, 4]
    assert wrn.feature_info.channels() == [16, 160, 320, 640]
    assert wrn.feature_info.module_name()[-1] == "norm"  # after the final BN-ReLU


def test_drop_path_follows_the_linear_rule_is_active_in_training_and_off_in_eval():
    rate = 0.5
    model = resnetlab.create_model("resnet20", drop_path_rate=rate)
    blocks = model.blocks()
    ps = [b.drop_path.p for b in blocks]
    assert ps == pytest.approx([rate * (i + 1) / 9 for i in range(9)])
    assert ps[-1] == pytest.approx(rate) and ps[0] == pytest.approx(rate / 9)
    assert drop_path_rates(0.2, 4) == pytest.approx([0.05, 0.1, 0.15, 0.2])

    torch.manual_seed(0)
    plain = resnetlab.create_model("resnet20")
    plain.load_state_dict(model.state_dict())
    x = torch.randn(4, 3, 32, 32)
    model.eval()
    plain.eval()
    with torch.no_grad():
        assert torch.equal(model(x), plain(x))  # eval: every branch kept, nothing rescaled
    model.train()
    with torch.no_grad():
        a, b = model(x), model(x)
    assert not torch.allclose(a, b)  # training: a fresh draw of dropped branches each pass


def test_drop_path_zeroes_whole_samples_and_rescales_the_kept_ones():
    torch.manual_seed(0)
    layer = DropPath(0.25).train()
    x = torch.ones(4000, 3, 2, 2)
    y = layer(x)
    per_sample = y.flatten(1)
    kept = per_sample[:, 0] != 0
    assert torch.all(per_sample[kept] == 1 / 0.75) and torch.all(per_sample[~kept] == 0)
    assert abs(kept.float().mean().item() - 0.75) < 0.03
    assert torch.equal(layer.eval()(x), x)


def test_dropout_before_the_classifier_and_between_the_wide_convs():
    model = resnetlab.create_model("resnet20", dropout=0.5)
    assert model.dropout == 0.5 and isinstance(model.head_drop, nn.Dropout)
    wide = resnetlab.create_model("wrn16_8", dropout=0.2)
    assert all(b.dropout.p == 0.2 for b in wide.blocks())
    assert isinstance(wide.head_drop, nn.Identity)
    assert all(b.dropout.p == 0.3 for b in resnetlab.create_model("wrn16_8").blocks())
    assert all(b.dropout is None for b in resnetlab.create_model("wrn16_8", dropout=0).blocks())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        wide.eval()
        assert torch.equal(wide(x), wide(x))


def test_squeeze_excite_is_a_block_option_for_any_net():
    plain = count_params(resnetlab.create_model("resnet20"))
    se = resnetlab.create_model("resnet20", block_args=dict(attn_layer="se"))
    # 16/32/64 channels reduced by 16, rounded up to 8 (timm's rule): 9 blocks of each width
    assert count_params(se) - plain == sum(3 * (2 * c * 8 + 8 + c) for c in (16, 32, 64))
    assert se(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    assert meta_model("seresnet50").layer4[0].se.fc1.weight.shape == (128, 2048, 1, 1)


def test_torchvision_and_timm_layouts():
    r50 = set(meta_model("resnet50").state_dict())
    for name in ("wide_resnet50_2", "resnext50_32x4d"):  # torchvision's keys are resnet50's
        model = meta_model(name)
        assert set(model.state_dict()) == r50
    assert meta_model("resnext50_32x4d").layer1[0].conv2.weight.shape == (128, 4, 3, 3)
    assert meta_model("wide_resnet50_2").layer1[0].conv2.weight.shape == (128, 128, 3, 3)
    d = meta_model("resnet50d")
    keys = set(d.state_dict())
    assert {"conv1.0.weight", "conv1.1.weight", "conv1.3.weight", "conv1.4.weight",
            "conv1.6.weight", "layer2.0.downsample.1.weight", "layer2.0.downsample.2.weight",
            "layer1.0.downsample.1.weight"} <= keys
    assert isinstance(d.layer2[0].downsample[0], nn.AvgPool2d)
    assert isinstance(d.layer1[0].downsample[0], nn.Identity)
    v2 = meta_model("resnetv2_50")
    keys = set(v2.state_dict())
    assert "bn1.weight" not in keys and "norm.weight" in keys
    assert "layer1.0.downsample.0.weight" in keys and "layer1.0.downsample.1.weight" not in keys
    assert v2.layer2[0].conv2.stride == (2, 2)


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("preact_resnet100", {}, "6n\\+2 .*or 9n\\+2"),
        ("wrn27_10", {}, "wrn depth must be 6n\\+4"),
        ("wrn28_0", {}, "width k must be >= 1"),
        ("resnext30_8x64d", {}, "9n\\+2"),
        ("resnext50_16x4d", {}, "the ImageNet ResNeXts are resnext50_32x4d"),
        ("resnext50_32x4d", {"cardinality": 0}, "cardinality and base_width must be >= 1"),
        ("resnext50_32x4d", {"base_width": -4}, "cardinality and base_width must be >= 1"),
        ("preact_resnet164", {"base_width": 6}, "not a whole number"),
        ("resnet20", {"cardinality": 4}, "basic blocks have no grouped"),
        ("resnet20", {"drop_path_rate": 1.0}, "drop_path_rate must be in \\[0, 1\\)"),
        ("resnet20", {"drop_path_rate": -0.1}, "drop_path_rate must be in \\[0, 1\\)"),
        ("resnet20", {"dropout": 1.5}, "dropout must be in \\[0, 1\\)"),
        ("resnet20", {"block_args": {"attn_layer": "cbam"}}, "unknown attn_layer"),
        ("resnet20", {"block_args": {"drop": 0.1}}, "unknown block_args"),
        ("resnet20", {"features_only": True, "out_indices": (4,)}, "0 \\(stem\\) to 3"),
        ("resnet20", {"out_indices": (1,)}, "needs features_only"),
        ("resnetv2_50", {"stride_in_1x1": True}, "stride in the 3x3"),
        ("preact_resnet164", {"stride_in_1x1": True}, "stride in the 3x3"),
    ],
)
def test_bad_arguments_say_what_is_valid(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        resnetlab.create_model(name, **kwargs)


def test_pre_activation_block_computes_bn_relu_conv_with_a_clean_identity_path():
    torch.manual_seed(0)
    model = resnetlab.create_model("preact_resnet29").eval()  # 9n+2: bottleneck blocks
    for blk in (model.layer2[0], model.layer2[1]):  # a projection block, an identity block
        x = torch.randn(2, blk.bn1.num_features, 8, 8)
        with torch.no_grad():
            pre = torch.relu(blk.bn1(x))
            branch = blk.conv3(torch.relu(blk.bn3(blk.conv2(torch.relu(blk.bn2(blk.conv1(pre)))))))
            shortcut = x if blk.downsample is None else blk.downsample(pre)
            assert torch.allclose(blk(x), branch + shortcut, atol=1e-6)
    assert model.layer2[1].downsample is None
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.layer2[0].downsample)
    # the net: conv stem alone, then blocks, then BN-ReLU before pooling (Identity Mappings)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        f = model.layer3(model.layer2(model.layer1(model.conv1(x))))
        assert torch.allclose(model.forward_features(x), torch.relu(model.norm(f)), atol=1e-6)


def test_squeeze_excite_gates_the_branch_before_the_addition():
    torch.manual_seed(0)
    blk = resnetlab.create_model("seresnet50").layer1[1].eval()
    x = torch.randn(2, 256, 8, 8)
    with torch.no_grad():
        out = blk.bn3(blk.conv3(blk.relu(blk.bn2(blk.conv2(blk.relu(blk.bn1(blk.conv1(x))))))))
        gate = torch.sigmoid(blk.se.fc2(torch.relu(blk.se.fc1(out.mean((2, 3), keepdim=True)))))
        assert torch.allclose(blk(x), torch.relu(out * gate + x), atol=1e-6)
