"""Parameters and MACs of registered nets, fast: counted on the meta device, kept on disk.

`resnetlab models` lists every net. Building wide_resnet101_2 (127M parameters) with its He
init and running a 224 px image through it takes seconds on a CPU; on the meta device (shapes,
no data) the same hooks count exactly and only Python's time is spent, which is still about a
second for a 1202-layer net. The counts are also kept in a JSON file in the user's cache, keyed
by a fingerprint of the spec and of the models package's source, so a later listing reads them
back and a change to any block counts afresh.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import torch

from resnetlab.io import read_json, write_json
from resnetlab.models.registry import build_model, get_spec
from resnetlab.models.stats import count_macs, count_params

CACHE_NAME = "model-sizes.json"


def cache_file() -> Path:
    """$XDG_CACHE_HOME/resnetlab/model-sizes.json (~/.cache/... without XDG_CACHE_HOME)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "resnetlab" / CACHE_NAME


@lru_cache(maxsize=1)
def _source_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()


def fingerprint(name: str) -> str:
    """Changes when the net's spec or any module of resnetlab.models changes."""
    return hashlib.sha256((repr(get_spec(name)) + _source_digest()).encode()).hexdigest()[:16]


def count(name: str) -> tuple[int, int]:
    """(parameters, MACs of one image at the net's native resolution), counted now."""
    r = get_spec(name).resolution
    try:
        with torch.device("meta"):
            model = build_model(name)
        return count_params(model), count_macs(model, (1, 3, r, r))
    except (NotImplementedError, RuntimeError):  # an op without a meta kernel: count on CPU
        model = build_model(name)
        return count_params(model), count_macs(model, (1, 3, r, r))


def model_sizes(names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """{name: (parameters, MACs)}: from the cache where its fingerprint matches, else counted
    and written back (a cache that cannot be read or written is just not used)."""
    path = cache_file()
    try:
        cached = read_json(path) if path.is_file() else {}
    except (ValueError, OSError):
        cached = {}
    if not isinstance(cached, dict):
        cached = {}
    out, fresh = {}, False
    for name in names:
        key = fingerprint(name)
        hit = cached.get(name)
        if isinstance(hit, dict) and hit.get("fingerprint") == key:
            out[name] = (int(hit["params"]), int(hit["macs"]))
            continue
        out[name] = count(name)
        cached[name] = {"fingerprint": key, "params": out[name][0], "macs": out[name][1]}
        fresh = True
    if fresh:
        try:
            write_json(path, cached)
        except OSError:
            pass
    return out
