"""The weights cache: find a published file, or download it, verify it, and place it atomically.

Files keep the publisher's names (resnet50-11ad3fa6.pth, resnet20-12fca82f.th) in the cache
folder: $RESNETLAB_CACHE if set, else $XDG_CACHE_HOME/resnetlab/weights (~/.cache/...).
A copy already in torch.hub's cache ($TORCH_HOME/hub/checkpoints) is used in place.

Downloads reuse resnetlab.data.sets.download (retries, HTTP Range resume of NAME.part, atomic
rename) into NAME.unverified; only a file whose SHA-256 starts with the published checksum
is renamed onto NAME, so the cache never holds an unchecked file under a real name. A
mismatch removes the file and names both checksums. Processes fetching the same file (DDP
ranks) take turns on a lock file: one downloads, the others find it in the cache.
$RESNETLAB_WEIGHTS_URL replaces the publishers' base URLs (a mirror, or file:///folder for
machines without internet).
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from pathlib import Path

from resnetlab.weights.catalog import PublishedWeights, get_weights

CACHE_ENV = "RESNETLAB_CACHE"
MIRROR_ENV = "RESNETLAB_WEIGHTS_URL"


class ChecksumError(ValueError):
    """A file's SHA-256 does not start with the published checksum (the file was removed)."""


class WeightsNotAvailable(FileNotFoundError):
    """Published weights are neither cached nor downloadable (offline, or the URL failed)."""


def cache_dir() -> Path:
    """Where downloaded weights live: $RESNETLAB_CACHE, else the user cache's resnetlab/weights."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "resnetlab" / "weights"


def cache_path(weights: str | PublishedWeights) -> Path:
    """The exact path a published file has in the cache (where to put it by hand, offline)."""
    return cache_dir() / get_weights(weights).filename


def download_url(weights: str | PublishedWeights) -> str:
    """The URL fetched: the publisher's, or the same file name under $RESNETLAB_WEIGHTS_URL."""
    w = get_weights(weights)
    mirror = os.environ.get(MIRROR_ENV)
    return f"{mirror.rstrip('/')}/{w.filename}" if mirror else w.url


def sha256sum(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def verify(path: str | Path, weights: str | PublishedWeights, *, remove: bool = True) -> Path:
    """Check a file against the published checksum; on a mismatch remove it (if asked) and
    raise ChecksumError naming the expected and the found checksum."""
    w = get_weights(weights)
    path = Path(path)
    found = sha256sum(path)
    if not found.startswith(w.checksum.lower()):
        size = path.stat().st_size
        if remove:
            path.unlink(missing_ok=True)
        raise ChecksumError(
            f"checksum mismatch for {w.name}: expected SHA-256 {w.checksum}..., found "
            f"{found} ({size} bytes; {path} {'removed' if remove else 'left in place'}). "
            "The file is corrupt, incomplete or another one: fetch it again."
        )
    return path


def _torch_hub_copy(w: PublishedWeights) -> Path | None:
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "torch")
    path = Path(home) / "hub" / "checkpoints" / w.filename
    if not path.is_file():
        return None
    try:
        return verify(path, w, remove=False)
    except ChecksumError:
        return None  # not ours to delete: download our own copy instead


def find_cached(weights: str | PublishedWeights) -> Path | None:
    """The verified cached file, or None. A corrupt file in the cache is removed (and
    ChecksumError raised), so the next call downloads it again."""
    w = get_weights(weights)
    path = cache_path(w)
    if path.is_file():
        return verify(path, w)
    return _torch_hub_copy(w)


def offline_hint(w: PublishedWeights, url: str) -> str:
    return (f"To use it without internet, download {url} on another machine and put it at "
            f"{cache_path(w)} (or set ${MIRROR_ENV} to a folder or server holding "
            f"{w.filename}).")


def fetch(
    weights: str | PublishedWeights,
    *,
    download: bool = True,
    progress: bool = True,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 1.0,
) -> Path:
    """The local path of verified published weights, downloading them if needed.

    download=False never touches the network: a file not in the cache raises
    WeightsNotAvailable naming the URL and the exact path to put it at. A download that
    fails the checksum raises ChecksumError (the file is removed); an interrupted one
    leaves NAME.unverified.part, which the next call resumes with an HTTP Range request.
    """
    from resnetlab.data.sets.download import DownloadError, download_file

    w = get_weights(weights)
    found = find_cached(w)
    if found is not None:
        return found
    url = download_url(w)
    dest = cache_path(w)
    if not download:
        raise WeightsNotAvailable(f"{w.name} is not in the cache ({dest}). "
                                  + offline_hint(w, url))
    with _download_lock(dest):
        found = find_cached(w)  # another process (e.g. another DDP rank) may have fetched it
        if found is not None:
            return found
        staging = dest.with_name(dest.name + ".unverified")
        try:
            download_file(url, staging, None, retries=retries, timeout=timeout,
                          backoff=backoff, progress=progress)
        except DownloadError as e:
            why = str(e).split("\n", 1)[-1].strip()  # drop "could not download X.unverified:"
            part = staging.with_name(staging.name + ".part")
            kept = (f"The {part.stat().st_size} bytes received are kept in {part} and the "
                    "next try resumes from there.\n" if part.is_file() else "")
            raise WeightsNotAvailable(f"cannot download {w.name}:\n  {why}\n{kept}"
                                      + offline_hint(w, url)) from e
        verify(staging, w)
        os.replace(staging, dest)  # same folder: atomic, and only a verified file gets the name
    return dest


@contextmanager
def _download_lock(dest: Path):
    """One downloader per file across processes: the others wait, then find it cached.

    An advisory flock on a hidden .NAME.lock beside it (kept: removing it would let two
    processes hold locks on different files). Where flock is missing, no lock is taken.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.with_name(f".{dest.name}.lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
