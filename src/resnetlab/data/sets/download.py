"""Fetch one file over HTTP(S): progress bar, checksum, retries, Range resume, atomic rename.

Bytes go to DEST.part; only a complete file whose MD5 matches is renamed onto DEST, so an
interrupted or corrupt download never looks like data. A later call resumes the .part file
with an HTTP Range request where the server allows it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from resnetlab.io import atomic_write

CHUNK = 1 << 16
USER_AGENT = "resnetlab (https://github.com/resnetlab)"


class DownloadError(OSError):
    """A file could not be fetched from any of its URLs (message says why, per URL)."""


def md5sum(path: str | Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _fetch_once(url: str, part: Path, timeout: float, progress: bool, desc: str) -> None:
    """Append the rest of URL to PART (resuming from its size when the server allows)."""
    from tqdm.auto import tqdm  # lazy: only a download draws a bar

    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to send: PART may already be whole
            return
        raise
    with resp:
        if have and resp.status != 206:
            have = 0  # the server ignored Range: start again
        length = resp.headers.get("Content-Length")
        expected = int(length) if length is not None else None
        got = 0
        with open(part, "ab" if have else "wb") as f, tqdm(
            total=None if expected is None else have + expected, initial=have, unit="B",
            unit_scale=True, unit_divisor=1024, desc=desc, disable=None if progress else True,
            leave=False,
        ) as bar:
            while chunk := resp.read(CHUNK):
                f.write(chunk)
                got += len(chunk)
                bar.update(len(chunk))
    if expected is not None and got < expected:
        raise DownloadError(f"{url}: connection closed after {have + got} of "
                            f"{have + expected} bytes")


def download_file(
    urls: str | Sequence[str],
    dest: str | Path,
    md5: str | None,
    *,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 1.0,
    progress: bool = True,
) -> Path:
    """Download DEST from the first URL that works, verify its MD5, rename it into place.

    Each URL is tried up to `retries` times (resuming the .part file); a 404 moves straight
    to the next URL. Raises DownloadError listing what happened at every URL.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    failures: list[str] = []
    for url in urls:
        for attempt in range(retries):
            try:
                _fetch_once(url, part, timeout, progress, dest.name)
            except urllib.error.HTTPError as e:
                failures.append(f"{url}: HTTP {e.code} {e.reason}")
                if e.code in (401, 403, 404, 410):
                    break
            except (OSError, http.client.HTTPException) as e:
                failures.append(f"{url}: {e}")
                if isinstance(getattr(e, "reason", None), socket.gaierror):
                    break  # the host name does not resolve: offline, or a dead mirror
            else:
                actual = md5sum(part) if md5 else None
                if md5 is None or actual == md5:
                    atomic_write(dest, lambda tmp: os.replace(part, tmp))
                    return dest
                part.unlink(missing_ok=True)
                failures.append(f"{url}: checksum mismatch (md5 {actual}, expected {md5})")
            if attempt + 1 < retries:
                time.sleep(backoff * 2**attempt)
    counted = [f"{f} (x{failures.count(f)})" if failures.count(f) > 1 else f
               for f in dict.fromkeys(failures)]
    raise DownloadError(f"could not download {dest.name}:\n  " + "\n  ".join(counted))
