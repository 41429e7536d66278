"""Where a number came from: the package versions and the hardware, one description for
model files, summary.json, results.json, bench JSON and reports."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

import torch


def package_version() -> str:
    """resnetlab's installed version (importlib.metadata), without importing the package."""
    try:
        return metadata.version("resnetlab")
    except metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
        return "0+unknown"


def versions() -> dict[str, str]:
    return {
        "resnetlab": package_version(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


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
