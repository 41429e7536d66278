"""One safe walk of a folder tree, for the image-folder reader and predict's globs.

The root is resolved once (it may itself be a link); below it every folder is walked once,
by its real path, and the walk never leaves the root. Symbolic links are never followed:
one that points outside the root, back up to a folder above it (a loop), or at something
inside the root (which the walk reaches by its real path anyway) is skipped and reported
with the reason. Non-regular files (FIFOs, sockets, devices) are skipped too: opening a FIFO
named .png would block forever.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Walk:
    """Regular files found (sorted, each once) and what was skipped: (path, reason)."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def link_reason(link: str, root_real: str, here_real: str) -> str:
    """Why the link at `link` (in the folder whose real path is here_real) is skipped."""
    target = os.path.realpath(link)
    if not os.path.exists(target):
        return f"broken symbolic link (to {os.readlink(link)})"
    if os.path.isdir(target) and _inside(here_real, target):
        return f"symbolic link back up to {target} (a loop)"
    if not _inside(target, root_real):
        return f"symbolic link to {target}, outside {root_real}: the walk never leaves its root"
    what = "folder" if os.path.isdir(target) else "file"
    return f"symbolic link to the {what} {target}, which is read by its real path"


def _kind(mode: int) -> str:
    return ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "special")


def walk_files(root: str | Path, accept: Callable[[str], bool] | None = None) -> Walk:
    """Regular files below root (by name filter `accept`), walking each folder once by its
    real path and never leaving root; links and non-regular files are skipped and reported
    (links to folders always, other entries when `accept` takes their name)."""
    root = Path(root)
    root_real = os.path.realpath(root)
    accept = accept or (lambda name: True)
    out = Walk()
    seen: set[tuple[int, int]] = set()
    stack = [(root_real, root)]  # (real path, path as the caller names it)
    while stack:
        real, shown = stack.pop()
        try:
            st = os.stat(real)
            if (st.st_dev, st.st_ino) in seen:  # e.g. a bind mount of a folder inside itself
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(real) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            out.skipped.append((str(shown), f"unreadable folder ({e.strerror or e})"))
            continue
        subdirs = []
        for e in entries:
            path = shown / e.name
            try:
                if e.is_symlink():
                    if accept(e.name) or os.path.isdir(e.path):
                        out.skipped.append((str(path), link_reason(e.path, root_real, real)))
                elif e.is_dir(follow_symlinks=False):
                    subdirs.append((os.path.join(real, e.name), path))
                elif not accept(e.name):
                    continue
                elif e.is_file(follow_symlinks=False):
                    out.files.append(path)
                else:
                    kind = _kind(e.stat(follow_symlinks=False).st_mode)
                    out.skipped.append((str(path), f"not a regular file ({kind})"))
            except OSError as err:
                out.skipped.append((str(path), f"unreadable ({err.strerror or err})"))
        stack += reversed(subdirs)
    out.files.sort()
    return out


def skipped_note(skipped: list[tuple[str, str]]) -> str:
    """What an error about an empty folder adds when links or special files were skipped."""
    if not skipped:
        return ""
    return (f" ({len(skipped)} link(s) or non-regular file(s) skipped, e.g. {skipped[0][0]}: "
            f"{skipped[0][1]}; links are not followed: copy the images into the folder)")


def _match(pattern: list[str], parts: list[str]) -> bool:
    """Path segments against glob segments, '**' standing for any number of segments."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _match(pattern[1:],
                                                                                parts[1:])


def glob_files(pattern: str, accept: Callable[[str], bool] | None = None) -> Walk:
    """The files a glob names, as predict reads them: a matched folder stands for every file
    below it. '**' is matched over walk_files (each folder once, links skipped and reported),
    never by following links; the part before the first '**' is expanded by glob, which
    does not recurse."""
    accept = accept or (lambda name: True)
    parts = Path(pattern).parts
    out = Walk()
    if "**" not in parts:
        for m in sorted(glob.glob(pattern)):
            _add_match(out, Path(m), accept)
    else:
        i = parts.index("**")
        base, rest = Path(*parts[:i]) if i else Path("."), list(parts[i:])
        bases = sorted(glob.glob(str(base))) if glob.has_magic(str(base)) else [str(base)]
        for b in map(Path, bases):
            if not b.is_dir():
                continue
            w = walk_files(b, accept)
            out.skipped += w.skipped
            for f in w.files:
                rel = list(f.relative_to(b).parts)
                # the file itself, or a folder above it, matches (a folder means its files)
                if any(_match(rest, rel[:k]) for k in range(len(rel) + 1)):
                    out.files.append(f)
    real = {}
    for f in sorted(out.files):  # one name per file, however many matches reach it
        real.setdefault(os.path.realpath(f), f)
    out.files = sorted(real.values())
    return out


def _add_match(out: Walk, m: Path, accept) -> None:
    if m.is_dir():  # a folder the pattern names: its files, walked safely
        w = walk_files(m, accept)
        out.files += w.files
        out.skipped += w.skipped
    elif accept(m.name):
        try:
            regular = stat.S_ISREG(os.stat(m).st_mode)
        except OSError:
            regular = False
        if regular:
            out.files.append(m)
        else:
            out.skipped.append((str(m), "not a regular file"))
