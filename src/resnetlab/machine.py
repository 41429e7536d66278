"""The hardware a number came from: one description for summary.json, bench JSON and reports."""

from __future__ import annotations

import os
import platform
from typing import Any

import torch


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """cpu, cores, torch_threads, platform, load_average (1/5/15 min, when the OS gives it)
    and gpu (when CUDA is there)."""
    info: dict[str, Any] = {"cpu": cpu_name(), "cores": os.cpu_count(),
                            "torch_threads": torch.get_num_threads(),
                            "platform": platform.platform()}
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info
