"""Fig. 7 stds: pooled over batches exactly as over the whole set, in forward order."""

import pytest
import torch

from resnetlab import create_model
from resnetlab.analysis.responses import response_stds, sorted_stds
from resnetlab.models.stats import collect_responses, response_layers


def test_pooled_std_equals_std_over_the_whole_set():
    torch.manual_seed(0)
    model = create_model("resnet8").eval()
    x = torch.randn(12, 3, 16, 16)
    stds = response_stds(model, [x[:5], (x[5:], None)])
    _, whole = collect_responses(model, x)
    assert list(stds) == list(response_layers(model))
    for name, r in whole.items():
        assert stds[name] == pytest.approx(r.double().std().item(), rel=1e-6)


def test_plain_and_residual_have_the_same_layer_count():
    a = response_stds(create_model("plain14"), [torch.randn(4, 3, 16, 16)])
    b = response_stds(create_model("resnet14"), [torch.randn(4, 3, 16, 16)])
    assert len(a) == len(b) == 13


def test_sorted_view_is_descending():
    assert sorted_stds({"a": 0.2, "b": 1.5, "c": 0.7}) == [1.5, 0.7, 0.2]


def test_no_data_is_an_error():
    with pytest.raises(ValueError, match="no batch"):
        response_stds(create_model("resnet8"), [])


def test_model_training_mode_is_restored():
    model = create_model("resnet8").train()
    response_stds(model, [torch.randn(2, 3, 8, 8)])
    assert model.training
