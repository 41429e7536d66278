"""The run folder: its file names, its lock, the train state (train_state.pt), metrics tables,
summary, and the check that an output folder holds this run (to resume) and not another one
(refused unless forced). report.md and rebuilding a finished run's files: train/run_report.py.

The train state holds everything but the code needed to continue a run exactly: weights,
optimizer, schedule, scaler, EMA, every RNG state and the position, in one atomic file of only
tensors and plain Python values, so it loads with weights_only=True.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import torch
import yaml
from filelock import FileLock, Timeout

from resnetlab import io as fileio
from resnetlab.checkpoint import first_non_finite
from resnetlab.io import atomic_write_bytes, atomic_write_text, write_json
from resnetlab.train.config import TrainConfig, config_diff

STATE_FILE = "train_state.pt"
STATE_FORMAT = 2  # the version of train_state.pt (2: "schedule" holds ScheduleLR's state)
CONFIG_FILE = "config.yaml"
METRICS_JSONL = "metrics.jsonl"
METRICS_CSV = "metrics.csv"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.md"
CURVES_FILE = "curves.png"
BEST_FILE = "best.safetensors"
RUN_FILES = ("model.safetensors", "model.json", BEST_FILE, "best.json", STATE_FILE,
             CONFIG_FILE, METRICS_JSONL, METRICS_CSV, CURVES_FILE, SUMMARY_FILE, REPORT_FILE)
LOCK_FILE = ".resnetlab.lock"  # flock'd while a process writes the folder (train, evaluate, export)
HOLDER_FILE = ".resnetlab.holder"  # that process's pid and host, for the line that refuses another
COLUMNS = ("iter", "epoch", "lr", "train_loss", "train_error", "val_error", "test_error",
           "images_per_second", "wall_time", "eval_seconds")


class RunFolderBusy(ValueError):
    """Another process holds the run folder."""


_held: set[str] = set()  # the folders this process holds


@contextmanager
def hold(out: Path, take: bool = True, wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the folder `out` (created if missing) for the block, with an OS lock (flock) on
    out/.resnetlab.lock that ends with its process however it ends: a SIGKILLed holder blocks
    nobody. Held by another process: RunFolderBusy at once, one line naming its pid; with
    `wait`, wait(that line), then wait for the lock. A folder this process holds passes;
    take=False (a DDP rank other than 0) takes nothing, nor does a read-only folder."""
    out, key = Path(out), os.path.realpath(out)
    created, lock = not os.path.exists(out), FileLock(Path(out) / LOCK_FILE, timeout=0)
    try:
        if take and key not in _held:
            out.mkdir(parents=True, exist_ok=True)
            lock.acquire()
    except Timeout:
        busy = f"{out} is in use by another resnetlab process ({_holder(out)})"
        if wait is None:
            raise RunFolderBusy(f"{busy}: wait for it to end, or choose another folder") from None
        wait(f"{busy}: waiting for it to end")
        lock.acquire(timeout=-1)
    except OSError as e:  # a file (the caller's check says so), or nothing can be written there
        if e.errno not in (errno.EEXIST, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EROFS):
            raise
    if not lock.is_locked:
        yield
        return
    _held.add(key)
    try:
        with suppress(OSError):  # read only by a process refused
            atomic_write_text(out / HOLDER_FILE, f"pid {os.getpid()} on {socket.gethostname()}")
        yield
    finally:
        _held.discard(key)
        with suppress(OSError):
            (out / HOLDER_FILE).unlink()
        with suppress(OSError):  # a run that never started leaves no folder behind
            if created and [p.name for p in out.iterdir()] == [LOCK_FILE]:
                (out / LOCK_FILE).unlink()
                out.rmdir()
        lock.release()


def _holder(out: Path) -> str:
    """The holder's "pid N on HOST", read again for a moment while it names no live process
    here (a new holder writes it just after taking the lock; a killed one left its own)."""
    for _ in range(40):
        with suppress(OSError, ValueError):
            text = (out / HOLDER_FILE).read_text().strip()
            _, pid, _, host = text.split()
            if host == socket.gethostname():
                os.kill(int(pid), 0)  # ProcessLookupError: that holder is dead
            return text
        time.sleep(0.05)
    return "pid unknown"


def write_config(out: Path, config: TrainConfig) -> None:
    atomic_write_text(out / CONFIG_FILE, yaml.safe_dump(config.to_dict(), sort_keys=False))


def read_config(out: Path) -> dict[str, Any]:
    path = out / CONFIG_FILE
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: corrupt run config ({e}); fix or delete it") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path}: corrupt run config (not a mapping); fix or delete it")
    return data


def write_metrics(out: Path, rows: list[dict[str, Any]]) -> None:
    """metrics.jsonl (one JSON object a row) and metrics.csv (fixed columns), atomically."""
    atomic_write_text(out / METRICS_JSONL, "".join(json.dumps(r) + "\n" for r in rows))
    write_metrics_csv(out, rows)


def write_metrics_csv(out: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / METRICS_CSV, buf.getvalue())


def read_metrics(out: Path, upto: int | None = None) -> list[dict[str, Any]]:
    """Rows of the run folder's metrics.jsonl (those with iter <= upto, when given)."""
    return fileio.read_metrics(out / METRICS_JSONL, upto)


def read_summary(out: Path) -> dict[str, Any] | None:
    path = out / SUMMARY_FILE
    if not path.is_file():
        return None
    return fileio.read_json(path, "; delete it to finish the run again")


def mark_unfinished(out: Path) -> None:
    """A "complete" summary.json becomes "running": called before a finished run's config
    changes (an extension), so that a kill before it ends never leaves a run that says it is
    complete under a config it has not finished."""
    summary = read_summary(out)
    if summary and summary.get("status") == "complete":
        write_json(out / SUMMARY_FILE, {**summary, "status": "running"})


# The rule that flags a loss which exploded while staying finite (a run that "completes" at
# chance error): a logged train_loss above LOSS_EXPLOSION_FACTOR times the first one logged.
LOSS_EXPLOSION_FACTOR = 100.0


def loss_explosion(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first metrics row whose train_loss exceeds LOSS_EXPLOSION_FACTOR x the first row's:
    {"iter", "train_loss", "early_loss", "factor"}, else None."""
    losses = [(r["iter"], r["train_loss"]) for r in rows if r.get("train_loss") is not None]
    if len(losses) < 2 or not losses[0][1] > 0:
        return None
    early = losses[0][1]
    for it, loss in losses[1:]:
        if loss > LOSS_EXPLOSION_FACTOR * early:
            return {"iter": it, "train_loss": loss, "early_loss": early,
                    "factor": LOSS_EXPLOSION_FACTOR}
    return None


def check_out_dir(out: Path, config: TrainConfig, resume: bool, force: bool) -> str:
    """What to do with `out`: "fresh" (start), "resume" (continue the run there).

    A folder holding another run (a different config, or any run with resume=False) is
    refused unless force: force with resume continues under the new config, force without
    resume starts over. Files that are not a run's are never deleted.
    """
    if not out.exists():
        return "fresh"
    if not out.is_dir():
        raise NotADirectoryError(f"{out} is a file; give --out a folder")
    has_run = (out / CONFIG_FILE).is_file()
    if not has_run:
        # resnetlab's own files (its lock, another rank's write check, a killed atomic write)
        # are not somebody else's files
        others = sorted(p.name for p in out.iterdir()
                        if p.name not in (*RUN_FILES, LOCK_FILE, HOLDER_FILE)
                        and not (p.name.startswith(".") and p.name.endswith(".tmp")))
        if others and not force:
            listed = ", ".join(others[:4]) + (" ..." if len(others) > 4 else "")
            raise ValueError(f"{out} is not empty and holds no resnetlab run ({listed}): "
                             "choose another --out, or "
                             "pass --force to write the run there anyway")
        return "fresh"
    diff = config_diff(read_config(out), config.to_dict())
    if resume and not diff:
        return "resume"
    if resume and force:
        return "resume"
    if force:
        clear_run(out)
        return "fresh"
    if not resume:
        raise ValueError(f"{out} already holds a run: pass --resume to continue it, --force to "
                         "start over there (its files are replaced), or choose another --out")
    changes = "; ".join(diff[:6]) + (" ..." if len(diff) > 6 else "")
    raise ValueError(f"{out} holds a run with a different recipe ({changes}). Continuing it "
                     "would silently change its schedule: choose another --out, pass --force "
                     "to start over there, or --resume --force to continue under the new recipe")


def is_finished(out: Path, config: TrainConfig) -> bool:
    """True when out holds this very run (same config, runtime keys aside), complete."""
    try:
        if not (out / CONFIG_FILE).is_file() or config_diff(read_config(out), config.to_dict()):
            return False
        summary = read_summary(out)
    except ValueError:
        return False
    return bool(summary) and summary.get("status") == "complete"


def clear_stale_temporaries(out: Path) -> None:
    """Delete the temporary files of writes that a killed run never finished."""
    for name in RUN_FILES:
        for tmp in out.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)


def clear_run(out: Path) -> None:
    """Delete a run's own files (and nothing else) from out."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)


def save_train_state(path: str | Path, state: dict[str, Any]) -> Path:
    """torch.save into memory, then one atomic os.write: a full disk is then an OSError that
    names the file (torch's zip writer reported it as "unexpected pos N vs M")."""
    buf = io.BytesIO()
    torch.save({"format": STATE_FORMAT, **state}, buf)
    return atomic_write_bytes(path, buf.getbuffer())


def load_train_state(path: str | Path) -> dict[str, Any]:
    """Read a train state without executing pickled code; errors name the file."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:
        raise ValueError(f"{path}: corrupt or foreign train state ({type(e).__name__}: {e}); "
                         "delete it to start the run over") from e
    if not isinstance(state, dict) or "format" not in state:
        raise ValueError(f"{path}: not a resnetlab train state (format {STATE_FORMAT})")
    if state["format"] != STATE_FORMAT:
        raise ValueError(f"{path}: a train state of format {state['format']}; this resnetlab "
                         f"resumes format {STATE_FORMAT} only: start the run over (--force)")
    return state


def first_non_finite_state(model: torch.nn.Module, ema: torch.nn.Module | None,
                           optimizer: torch.optim.Optimizer) -> str | None:
    """The first tensor of a train state to save (weights, BN buffers, EMA, optimizer) that
    holds inf or nan, else None."""
    named = {f"model {k}": v for k, v in model.state_dict().items()}
    if ema is not None:
        named.update({f"ema {k}": v for k, v in ema.state_dict().items()})
    for i, group in optimizer.state_dict()["state"].items():
        named.update({f"optimizer state {i} {k}": v for k, v in group.items()})
    return first_non_finite(named)
