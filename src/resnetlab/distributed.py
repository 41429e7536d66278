"""Multi-process training on torchrun + DistributedDataParallel: set-up, collectives, SyncBN.

Backends: NCCL on CUDA, gloo on CPU, chosen from the device. Nothing here runs unless the
process was started by torchrun (RANK / WORLD_SIZE in the environment) or `--nproc N`.
"""

from __future__ import annotations

import datetime
import os
import sys
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def env_info() -> DistInfo:
    """Rank, world size and local rank that torchrun put in the environment (or 0, 1, 0)."""
    return DistInfo(
        rank=int(os.environ.get("RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def init_distributed(device: torch.device, timeout_s: float = 600.0) -> DistInfo:
    """Join the process group torchrun describes; a no-op for a single process.

    On CUDA each process takes the GPU of its LOCAL_RANK. A collective that waits longer than
    timeout_s fails instead of hanging (see collective()).
    """
    info = env_info()
    if not info.enabled or (dist.is_available() and dist.is_initialized()):
        return info
    if not dist.is_available():
        raise RuntimeError("this PyTorch build has no torch.distributed: install a full build")
    if device.type == "cuda":
        torch.cuda.set_device(info.local_rank)
    timeout = datetime.timedelta(seconds=timeout_s)
    store = restart_store(info, timeout)
    dist.init_process_group(
        backend=backend_for(device),
        timeout=timeout,
        device_id=torch.device("cuda", info.local_rank) if device.type == "cuda" else None,
        **({"store": store, "rank": info.rank, "world_size": info.world_size} if store else {}),
    )
    return info


def restart_store(info: DistInfo, timeout: datetime.timedelta) -> dist.Store | None:
    """The rendezvous store for this attempt when torchrun shares its own store with the workers.

    torchrun (torch >= 2.4) hands every attempt of the worker group the same TCPStore, so
    after a restart the new group reads the previous group's gloo/NCCL addresses and fails to
    connect or hangs (pytorch/pytorch#135712). Keys are kept apart here by the restart count,
    which every worker of one torchrun agent shares; across several nodes that count can
    differ, so multi-node jobs set TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 instead (then each
    attempt gets a fresh store and this returns None; docs/distributed.md).
    """
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return None
    client = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]),
                           info.world_size, is_master=False, timeout=timeout)
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    return dist.PrefixStore(f"resnetlab/attempt_{attempt}", client)


def local_device(device: torch.device, info: DistInfo) -> torch.device:
    """The device of this rank: cuda:LOCAL_RANK under torchrun on GPUs."""
    if device.type == "cuda" and info.enabled:
        return torch.device("cuda", info.local_rank)
    return device


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def collective(name: str, fn, *args, **kwargs):
    """Run a torch.distributed collective; a failure or timeout names the rank and the call."""
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # gloo/nccl raise RuntimeError or DistBackendError on timeouts
        rank = dist.get_rank() if dist.is_initialized() else 0
        raise RuntimeError(
            f"rank {rank}: collective {name!r} failed or timed out ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}); another rank probably died or hangs"
        ) from e


def all_reduce_sum(t: torch.Tensor, name: str = "all_reduce") -> torch.Tensor:
    """Sum a tensor over ranks in place (unchanged for a single process)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        collective(name, dist.all_reduce, t, op=dist.ReduceOp.SUM)
    return t


def all_gather_objects(obj: Any, name: str = "all_gather_object") -> list[Any]:
    """Every rank's obj (a small picklable value, sent between this job's own processes),
    in rank order; [obj] for a single process."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        out: list[Any] = [None] * dist.get_world_size()
        collective(name, dist.all_gather_object, out, obj)
        return out
    return [obj]


def barrier(name: str = "barrier") -> None:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        collective(name, dist.barrier)


def broadcast_buffers(module: nn.Module, name: str = "broadcast_buffers") -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics).

    With per-device BatchNorm each rank's last training forward leaves its own running
    statistics (DDP only re-broadcasts rank 0's at the next forward), so before an evaluation
    the ranks would score different models; after this they all score the one rank 0 saves.
    """
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        for b in module.buffers():
            collective(name, dist.broadcast, b, src=0)


class _SumOverRanks(torch.autograd.Function):
    """all_reduce(SUM) whose backward is all_reduce(SUM) of the gradient."""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:
        out = t.clone()
        collective("sync_bn.stats", dist.all_reduce, out, op=dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        collective("sync_bn.grad", dist.all_reduce, grad, op=dist.ReduceOp.SUM)
        return grad


class CPUSyncBatchNorm(nn.BatchNorm2d):
    """BatchNorm over the global batch for gloo/CPU, where torch's SyncBatchNorm refuses CPU.

    Training statistics are summed over ranks (in float64, so the result equals one
    process's BN on the whole batch); eval mode is plain BatchNorm.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        c = x.shape[1]
        xd = x.double()
        n = torch.tensor([x.numel() // c], dtype=torch.float64, device=x.device)
        stats = _SumOverRanks.apply(
            torch.cat([xd.sum((0, 2, 3)), (xd * xd).sum((0, 2, 3)), n])
        )
        total = stats[-1]
        mean = stats[:c] / total
        var = (stats[c:2 * c] / total - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else \
                    1.0 / float(self.num_batches_tracked)
                unbiased = var * total / (total - 1).clamp_min(1)
                self.running_mean.mul_(1 - m).add_(mean.to(self.running_mean.dtype), alpha=m)
                self.running_var.mul_(1 - m).add_(unbiased.to(self.running_var.dtype), alpha=m)
        inv = torch.rsqrt(var + self.eps)
        y = (xd - mean[None, :, None, None]) * inv[None, :, None, None]
        y = y.to(x.dtype)
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y


def convert_sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm2d -> torch's SyncBatchNorm on GPUs, CPUSyncBatchNorm on the CPU."""
    if device.type != "cpu":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)

    def convert(m: nn.Module) -> nn.Module:
        if type(m) is nn.BatchNorm2d:
            new = CPUSyncBatchNorm(m.num_features, m.eps, m.momentum, m.affine,
                                   m.track_running_stats)
            new.load_state_dict(m.state_dict())
            new.train(m.training)
            return new
        for name, child in m.named_children():
            setattr(m, name, convert(child))
        return m

    return convert(model)


def revert_sync_batchnorm(model: nn.Module) -> nn.Module:
    """Back to plain BatchNorm2d (what gets saved), keeping parameters and statistics."""
    def revert(m: nn.Module) -> nn.Module:
        if isinstance(m, (nn.SyncBatchNorm, CPUSyncBatchNorm)):
            new = nn.BatchNorm2d(m.num_features, m.eps, m.momentum, m.affine,
                                 m.track_running_stats)
            new.load_state_dict(m.state_dict())
            new.train(m.training)
            return new.to(m.weight.device if m.weight is not None else "cpu")
        for name, child in m.named_children():
            setattr(m, name, revert(child))
        return m

    return revert(model)


def launch(nproc: int, argv: list[str], max_restarts: int = 0) -> int:
    """`resnetlab train --nproc N ...`: re-run this command under torchrun on one machine."""
    from torch.distributed.run import main as torchrun_main  # heavy; only for --nproc

    if nproc < 1:
        raise ValueError(f"--nproc must be >= 1, got {nproc}")
    # a fresh rendezvous store for each attempt, so --max-restarts can restart the group
    os.environ.setdefault("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "1")
    args = [
        "--standalone", f"--nproc-per-node={nproc}", f"--max-restarts={max_restarts}",
        "-m", "resnetlab", *argv,
    ]
    try:
        torchrun_main(args)
    except SystemExit as e:  # torchrun exits through sys.exit on failure
        return int(e.code or 0)
    except Exception as e:  # ChildFailedError carries the failing rank's message
        print(f"resnetlab: distributed run failed: {e}", file=sys.stderr)
        return 1
    return 0
