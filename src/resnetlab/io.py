"""Files resnetlab writes and reads back: atomic writes (every file goes through them), JSON,
and the metrics.jsonl rows that training writes and experiments read."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Notice(UserWarning):
    """A warning meant for the person running resnetlab (a skipped image, an lr that never
    decays): the CLI prints it as one line, "resnetlab CMD: warning: ...", without Python's
    file and source line; in Python it is an ordinary UserWarning to filter or catch."""


class WriteError(OSError):
    """A file could not be written (full disk, read-only folder ...); the message names the
    file and the fix. The CLI prints it as one line."""

    def __str__(self) -> str:
        return str(self.strerror)  # the message alone, without "[Errno N]" and the path again


_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)


def write_error(path: Path, e: OSError) -> WriteError:
    """A WriteError saying why `path` could not be written (the cause kept as __cause__)."""
    if e.errno in _FULL:
        why = (f"the disk is full while writing {path}: free some space there (or choose "
               "another output folder, e.g. --out) and run the same command again")
    elif e.errno in _DENIED:
        why = (f"cannot write {path}: {path.parent} is read-only or not writable "
               f"({os.strerror(e.errno)}); choose another output folder (--out)")
    else:
        why = f"cannot write {path}: {e.strerror or e}"
    err = WriteError(e.errno, why)
    err.filename = str(path)
    return err


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call write(tmp_path) then fsync and rename onto path: readers never see half a file.

    An OSError of the write (full disk, read-only folder) becomes a WriteError naming path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise write_error(path, e) from e
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, WriteError) or e.errno not in (*_FULL, errno.EROFS):
            raise  # e.g. an input that write() reads is missing: not a write error
        raise write_error(path, e) from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(tmp: str | Path, data: bytes) -> None:
    """data into the file tmp with os.write (whose errors, ENOSPC included, are OSErrors:
    library writers that stream to a path, like torch.save's zip writer, report a full disk
    as an unrelated RuntimeError)."""
    fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: write_bytes(tmp, data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def check_writable(folder: str | Path, option: str = "--out") -> Path:
    """Create folder if missing and make sure a file can be written there, before any time
    is spent on what would be written: a WriteError naming the folder and `option` if not."""
    folder = Path(folder)
    probe = folder / ".resnetlab-write-check"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{probe.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        err = write_error(probe, e)
        if e.errno in _DENIED:
            err = WriteError(e.errno, f"cannot write into {folder}: it is read-only or not "
                             f"writable ({os.strerror(e.errno)}); choose another folder "
                             f"({option})")
        raise err from e
    return folder


def write_json(path: str | Path, data: Any) -> Path:
    """data as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def read_json(path: str | Path, hint: str = "") -> Any:
    """A JSON file; a corrupt one raises ValueError naming the file (and hint, the fix)."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: corrupt JSON ({e}){hint}") from e


def read_metrics(path: str | Path, upto: int | None = None, hint: str = "") -> list[dict[str, Any]]:
    """Rows of a metrics.jsonl file (those with iter <= upto, when given); [] when it is
    missing. A corrupt row raises ValueError naming file:line (and hint, the fix)."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{n}: corrupt metrics row ({e}){hint}") from e
        if upto is None or row["iter"] <= upto:
            rows.append(row)
    return rows
