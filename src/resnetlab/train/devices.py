"""The devices a run computes on: which device, its precision (autocast), CPU threads, seeds
and RNG states, and the DDP rank."""

from __future__ import annotations

import contextlib
import os
import platform
import random
import time
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from resnetlab import distributed
from resnetlab.distributed import DistInfo, env_info


def dist_info() -> DistInfo:
    """Rank and world size from torch.distributed, when it has been initialised."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), env_info().local_rank)
    return DistInfo()


def all_reduce_sum(t: torch.Tensor, d: DistInfo, name: str = "all_reduce") -> torch.Tensor:
    """Sum of t over the ranks d spans. Not a repeat of distributed.all_reduce_sum's guard: a
    DistInfo() inside a DDP job (an evaluation each rank runs on its own, whole) keeps t."""
    return distributed.all_reduce_sum(t, name) if d.enabled else t


def gather_objects(obj, d: DistInfo, name: str = "all_gather_object") -> list:
    """Every rank's obj in rank order when d spans ranks, else [obj]."""
    return distributed.all_gather_objects(obj, name) if d.enabled else [obj]


def barrier(d: DistInfo, name: str = "barrier") -> None:
    if d.enabled:
        distributed.barrier(name)


def pick_device(name: str = "auto") -> torch.device:
    """'auto' is CUDA when present (this rank's GPU under DDP), else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", env_info().local_rank)
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} but CUDA is not available here: use device=cpu "
                         "or device=auto")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX), as oneDNN needs."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return platform.machine() in ("arm64", "aarch64")
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: bf16 where the hardware has it, else fp16 on CUDA, else none."""
    if amp == "off":
        return None
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_bf16() else None


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def busy_cores(seconds: float = 0.5) -> float | None:
    """How many cores other processes keep busy right now (from /proc/stat over `seconds`);
    None where the kernel does not offer /proc/stat."""
    def snapshot() -> tuple[int, int]:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
        return sum(ticks), ticks[3] + ticks[4]  # all, idle + iowait

    try:
        total0, idle0 = snapshot()
        time.sleep(seconds)
        total1, idle1 = snapshot()
    except (OSError, ValueError, IndexError):
        return None
    return (1 - (idle1 - idle0) / max(total1 - total0, 1)) * (os.cpu_count() or 1)


# --deterministic with threads=0: a fixed thread count, not the idle cores at start (1 or 2 on
# a shared machine gave other sums, and other weights, run to run).
DETERMINISTIC_THREADS = 1


def auto_threads() -> int:
    """CPU threads for a run: the cores that other processes leave idle, at least 1.

    Fine-grained CPU kernels slow down many-fold when a thread must wait for a core that
    another process holds (measured: 2 threads ran 4-20x slower than 1 on a busy 2-core
    machine), so on a shared machine fewer threads finish sooner.
    """
    cores = os.cpu_count() or 1
    busy = busy_cores()
    if busy is None:
        return cores
    return max(1, min(cores, round(cores - busy + 0.25)))


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch; optionally make torch's kernels deterministic."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and CUDA generator states, as weights_only-loadable values."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                  "has_gauss": has_gauss, "gauss": gauss},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
