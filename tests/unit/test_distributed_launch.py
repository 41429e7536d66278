"""torchrun set-up that makes --max-restarts work: a separate rendezvous store per attempt."""

from __future__ import annotations

import datetime
import os

import torch.distributed as dist

from resnetlab import distributed


def test_nproc_launch_asks_torchrun_for_a_fresh_store_per_attempt(monkeypatch):
    seen = {}

    def fake_torchrun(args):
        seen["args"] = args
        seen["env"] = os.environ.get("TORCH_DISABLE_SHARE_RDZV_TCP_STORE")

    monkeypatch.delenv("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", raising=False)
    monkeypatch.setattr("torch.distributed.run.main", fake_torchrun)
    assert distributed.launch(2, ["train", "--iters", "3"], max_restarts=1) == 0
    assert seen["env"] == "1"
    assert "--max-restarts=1" in seen["args"] and seen["args"][-3:] == ["train", "--iters", "3"]


def test_attempts_sharing_torchruns_store_do_not_see_each_others_keys(monkeypatch):
    server = dist.TCPStore("127.0.0.1", 0, 1, is_master=True, wait_for_workers=False)
    monkeypatch.setenv("TORCHELASTIC_USE_AGENT_STORE", "True")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(server.port))
    info, timeout = distributed.DistInfo(0, 2, 0), datetime.timedelta(seconds=5)
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    first = distributed.restart_store(info, timeout)
    first.set("rank_0", "old address")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    second = distributed.restart_store(info, timeout)
    assert not second.check(["rank_0"]) and first.check(["rank_0"])
    monkeypatch.setenv("TORCHELASTIC_USE_AGENT_STORE", "False")
    assert distributed.restart_store(info, timeout) is None
