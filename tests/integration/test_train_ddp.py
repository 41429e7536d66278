"""The engine under an initialised torch.distributed group (2 CPU processes, gloo): ranks
train in step, rank 0 alone writes the run folder, metrics count every rank's samples."""

import json
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from train_helpers import learnable_mnist, tiny_config  # noqa: E402

from resnetlab.train import fit  # noqa: E402


def _worker(rank: int, world: int, root: str, out: str, port: int) -> None:
    from resnetlab.train import engine

    finish = engine.finish

    def keep_weights(run, final):  # each rank's own trained weights, for the test to compare
        flat = torch.cat([p.detach().flatten() for p in run.model.parameters()])
        torch.save(flat, Path(out) / f"rank{rank}.pt")
        return finish(run, final)

    engine.finish = keep_weights
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        fit(tiny_config(Path(root), iters=6, val_size=32, eval_every=3), Path(out) / "run")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_ranks_train_one_run(tmp_path):
    import socket

    root = learnable_mnist(tmp_path / "data")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(2, str(root), str(tmp_path), port), nprocs=2, join=True)
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["world_size"] == 2
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    ev = [r for r in rows if "test_error" in r]
    assert ev and all(r["val_error"] * 32 / 100 == pytest.approx(round(r["val_error"] * 32 / 100))
                      for r in ev)  # val errors are multiples of 1/32: all 32 images counted
    w0, w1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert torch.equal(w0, w1)  # gradients were averaged: the ranks stayed in step
    saved = load_file(str(run / "model.safetensors"))
    assert saved["fc.weight"].flatten().tolist() == w0[-saved["fc.weight"].numel()
                                                        - saved["fc.bias"].numel():
                                                        -saved["fc.bias"].numel()].tolist()
