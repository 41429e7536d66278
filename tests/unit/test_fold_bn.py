import pytest
import torch
from infer_models import calibrated, one_thread  # noqa: F401 (autouse fixture)
from torch import nn

from resnetlab.inference.fold import count_bn, fold_bn


@pytest.mark.parametrize(
    ("name", "size", "overrides"),
    [
        ("resnet8", 32, {}),
        ("plain20", 32, {}),
        ("resnet8", 32, {"shortcut": "C"}),
        ("resnet50", 32, {"stride_in_1x1": False}),
        ("resnet18d", 32, {}),  # deep stem (bn1 after conv1's last conv), avg-pool shortcut
        ("resnet8", 32, {"block_args": {"attn_layer": "se"}}),
    ],
)
def test_folding_keeps_outputs(name, size, overrides):
    model = calibrated(name, size, **overrides)
    before = count_bn(model)
    folded = fold_bn(model)
    x = torch.randn(4, 3, size, size)
    with torch.no_grad():
        ref, got = model(x), folded(x)
    assert before > 0 and count_bn(folded) == 0
    assert count_bn(model) == before, "the original model must be left alone"
    assert (got - ref).abs().max().item() <= 1e-5 * max(1.0, ref.abs().max().item())
    assert not folded.training


def test_folding_uses_running_stats_not_batch_stats():
    model = calibrated("resnet8", 16)
    model.train()  # fold_bn must fold the eval-mode (running-stat) map whatever the mode
    folded = fold_bn(model)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(folded(x), model.eval()(x), atol=1e-5)


def test_lone_batchnorm_is_refused():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.BatchNorm2d(4))
    with pytest.raises(ValueError, match="follow no convolution"):
        fold_bn(net)


def test_pre_activation_nets_are_refused_not_mispaired():
    # bnN feeds convN in a pre-activation block (BN -> ReLU -> conv): there is no pair to fold,
    # and pairing them by name would give wrong outputs
    with pytest.raises(ValueError, match="follow no convolution"):
        fold_bn(calibrated("preact_resnet20", 32))
