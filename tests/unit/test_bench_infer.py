import json

import pytest
import torch
from torch import nn

from resnetlab.bench.infer import SCHEMA, Variant, bench_infer, prepare
from resnetlab.cli import main


def test_variants_side_by_side_with_the_baseline():
    threads_before = torch.get_num_threads()
    r = bench_infer("resnet8", batch_size=3, image_size=16, seconds=0.05, rounds=1, threads=1,
                    variants=[Variant("eager", fold_bn=True, channels_last=True),
                              Variant("eager", dtype="bf16")])
    assert r["schema"] == SCHEMA and r["input_size"] == [3, 16, 16] and r["threads"] == 1
    assert torch.get_num_threads() == threads_before
    labels = [v["label"] for v in r["variants"]]
    assert labels == ["eager fp32", "eager folded channels_last fp32", "eager bf16"]
    assert [v["baseline"] for v in r["variants"]] == [True, False, False]
    for v in r["variants"]:
        assert [s["batch_size"] for s in v["results"]] == [1, 3]
        for s in v["results"]:
            assert s["iterations"] >= 5 and s["images_per_second"] > 0
            assert 0 < s["latency_ms"]["p50"] <= s["latency_ms"]["p99"]
        assert set(v["speedup"]) == {"1", "3"}
    folded, bf16 = r["variants"][1]["check"], r["variants"][2]["check"]
    assert folded["max_abs_diff"] < 1e-4 and folded["top1_agreement"] == 1.0
    assert bf16["max_abs_diff"] > folded["max_abs_diff"]  # bf16 is measurably coarser


def test_onnxruntime_variant_matches_eager():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)).eval()
    run = prepare(net, Variant("onnxruntime"), [(1, 3, 8, 8), (4, 3, 8, 8)], threads=1)
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(run(x), net(x), atol=1e-5)


def test_onnxruntime_refuses_what_it_cannot_run():
    with pytest.raises(ValueError, match="fp32 NCHW"):
        Variant("onnxruntime", dtype="bf16")
    with pytest.raises(ValueError, match="unknown backend"):
        Variant("tensorrt")


def test_cli_json(capsys):
    rc = main(["bench", "infer", "--model", "resnet8", "--image-size", "8", "--batch-size",
               "2", "--fold-bn", "--seconds", "0.05", "--rounds", "1", "--threads", "1", "--json"])
    r = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert set(r) >= {"schema", "model", "input_size", "threads", "variants", "machine",
                      "versions"}
    assert set(r["machine"]) >= {"cpu", "cores", "torch_threads", "platform", "load_average",
                                 "load_average_before"}
    assert r["machine"]["torch_threads"] == 1 and len(r["machine"]["load_average"]) == 3
    assert [v["label"] for v in r["variants"]] == ["eager fp32", "eager folded fp32"]
    assert set(r["variants"][1]) >= {"backend", "fold_bn", "channels_last", "dtype", "results",
                                     "check", "speedup", "setup_seconds"}
