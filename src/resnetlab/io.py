"""Files resnetlab writes and reads back: atomic writes (every file goes through them), JSON,
and the metrics.jsonl rows that training writes and experiments read."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call write(tmp_path) then fsync and rename onto path: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
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


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


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
