"""Helpers of the adversarial tests: hostile files written byte by byte, and a capped runner.

A memory bomb is only ever reproduced in a child process whose address space is capped
(RLIMIT_AS), so a reader that regresses fails its test instead of taking the machine down.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
from PIL import Image

SRC = Path(__file__).resolve().parents[2] / "src"

# The child's body: import the readers, call one, report the outcome and the peak RSS.
# The readers need numpy only: the packages are stubbed so that torch is not imported
# (a child starts in a fraction of a second, and its RSS is the readers' own).
_CHILD = """
import json, resource, sys, types
for name in ("resnetlab", "resnetlab.data"):
    pkg = types.ModuleType(name)
    pkg.__path__ = [sys.argv[3] + "/" + name.replace(".", "/")]
    sys.modules[name] = pkg
from resnetlab.data.sets import readers
name, args = sys.argv[1], json.loads(sys.argv[2])
try:
    out = getattr(readers, name)(*args)
    result = {"ok": True, "repr": repr(type(out))}
except BaseException as e:
    result = {"ok": False, "type": type(e).__name__, "error": str(e)}
result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
"""


def run_reader_capped(name: str, *args, limit_mb: int = 1536, timeout: float = 60) -> dict:
    """readers.<name>(*args) in a child capped at limit_mb of address space: {"ok", "type",
    "error", "maxrss_mb"}; a child killed by the cap counts as a MemoryError."""
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))

    env = {**os.environ, "PYTHONPATH": str(SRC), "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-c", _CHILD, name, json.dumps([str(a) for a in args]),
                        str(SRC)],
                       capture_output=True, text=True, env=env, preexec_fn=cap,
                       timeout=timeout)
    lines = p.stdout.strip().splitlines()
    if p.returncode or not lines:
        return {"ok": False, "type": "MemoryError", "error": p.stderr[-2000:],
                "maxrss_mb": float(limit_mb)}
    return json.loads(lines[-1])


def baseline_rss_mb() -> float:
    """Peak RSS of a child that only imports the readers (what a bounded read adds to)."""
    return run_reader_capped("read_label_names", os.devnull)["maxrss_mb"]


def idx_header(code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)


def gzip_bomb(prefix: bytes, mib: int) -> bytes:
    """A gzip stream of `prefix` followed by `mib` MiB of zeros, about 1 KB per MiB: one member
    of 1 MiB of zeros, repeated (a multi-member gzip file decompresses to their sum)."""
    member = gzip.compress(b"\0" * (1 << 20), compresslevel=9)
    return gzip.compress(prefix) + member * mib


def write_image(path: Path, value: int = 128, size=(24, 20)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)
    return path


def image_folder(root: Path, classes=("cat", "dog"), per_class: int = 3) -> Path:
    for c, name in enumerate(classes):
        for i in range(per_class):
            write_image(root / name / f"{name}{i}.png", 40 * c + i)
    return root


def call_with_deadline(fn, seconds: float, unblock=None):
    """fn() in a thread; if it has not returned after `seconds`, call unblock() (e.g. open a
    FIFO's other end) so the thread can finish, and raise AssertionError: a hang fails the
    test instead of hanging the suite."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:  # handed back to the caller
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        if unblock:
            unblock()
        t.join(5)
        raise AssertionError(f"{getattr(fn, '__name__', fn)} did not return within {seconds} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def run_forked(fn, timeout: float = 10.0, limit_mb: int = 1024):
    """fn() in a forked child with `limit_mb` of address space beyond what this process
    already maps and a SIGALRM deadline: a walk that loops or a read that blocks is killed
    and fails the test (AssertionError), instead of hanging the suite or filling memory.
    For plain-Python work (walking, globbing, opening files): no threads in the child."""
    import pickle
    import signal

    vm = next(int(line.split()[1]) for line in open("/proc/self/status")
              if line.startswith("VmSize:"))  # kB
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            cap = (vm << 10) + (limit_mb << 20)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            signal.alarm(max(1, int(timeout)))
            try:
                out = ("ok", fn())
            except BaseException as e:
                out = ("error", f"{type(e).__name__}: {e}")
            data = pickle.dumps(out)
            with os.fdopen(w, "wb") as f:
                f.write(data)
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        why = (f"killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exit {os.WEXITSTATUS(status)}")
        raise AssertionError(f"{getattr(fn, '__name__', fn)} did not finish within {timeout} s "
                             f"and {limit_mb} MiB ({why}): it hangs or loops")
    kind, value = pickle.loads(data)
    if kind == "error":
        raise AssertionError(f"raised {value}")
    return value
