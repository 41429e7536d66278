"""DDP on gloo with 2 CPU processes: SyncBN over the global batch equals one process."""

from __future__ import annotations

import copy
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import resnetlab
from resnetlab.distributed import convert_sync_batchnorm, revert_sync_batchnorm

STEPS = 3


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return resnetlab.create_model("resnet8", in_chans=1, num_classes=4)


def make_data():
    g = torch.Generator().manual_seed(1)
    return torch.randn(STEPS, 8, 1, 12, 12, generator=g), torch.randint(0, 4, (STEPS, 8),
                                                                       generator=g)


def train(model, xs, ys, sl=slice(None)):
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in zip(xs, ys):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[sl]), y[sl]).backward()
        opt.step()
    return model


def _worker(rank: int, world: int, init_file: str, out_file: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    model = convert_sync_batchnorm(make_model(), torch.device("cpu"))
    ddp = nn.parallel.DistributedDataParallel(model)
    xs, ys = make_data()
    per = xs.shape[1] // world
    train(ddp, xs, ys, slice(rank * per, (rank + 1) * per))
    if rank == 0:
        torch.save(revert_sync_batchnorm(model).state_dict(), out_file)
    dist.barrier()  # every collective is done and the weights are on disk
    # Leave without the interpreter's teardown: rank 1 sometimes aborted there (SIGABRT,
    # "terminate called without an active exception"; faulthandler: no Python frame left),
    # after destroy_process_group had returned. Once in CI; looped here under load, 2 runs
    # in 40, and still some with DDP released and a barrier before destroy_process_group.
    # This test is about SyncBN's numbers, not gloo's shutdown. On an error the exception
    # propagates and mp.spawn reports it.
    os._exit(0)


@pytest.mark.slow
def test_two_process_syncbn_training_equals_one_process(tmp_path):
    out = tmp_path / "ddp.pt"
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
    single = train(make_model(), *make_data())
    got = torch.load(out, weights_only=True)
    ref = single.state_dict()
    assert set(got) == set(ref)
    for k in ref:
        assert torch.allclose(got[k].double(), ref[k].double(), atol=1e-5, rtol=0), k


def test_conversion_round_trip_keeps_state():
    model = make_model()
    before = copy.deepcopy(model.state_dict())
    conv = convert_sync_batchnorm(model, torch.device("cpu"))
    assert not any(type(m) is nn.BatchNorm2d for m in conv.modules())
    back = revert_sync_batchnorm(conv)
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in back.modules())
    assert {k: v.shape for k, v in back.state_dict().items()} == \
        {k: v.shape for k, v in before.items()}
    x = torch.randn(2, 1, 12, 12)
    with torch.no_grad():  # single process, no process group: plain BN behaviour
        ref = make_model().eval()(x)
        assert torch.allclose(back.eval()(x), ref)
