"""Image folders in the ImageNet / torchvision ImageFolder layout: root/<class>/<image>."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from resnetlab.data.sets.walk import link_reason, skipped_note, walk_files
from resnetlab.io import Notice

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


@dataclass
class FolderSet:
    """(path, label) samples of an image folder and its class names (sorted folder names);
    `skipped`: (path, reason) of the links and non-regular files the scan did not follow."""

    root: Path
    samples: list[tuple[Path, int]]
    classes: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)


def scan_folder(root: str | Path, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> FolderSet:
    """One sub-folder per class, images anywhere below it; other files are ignored.

    Each folder is walked once by its real path and never outside root (data/walk.py): links
    (a class folder's too) and non-regular files are skipped and listed in `skipped`, so a
    link up or a loop can neither relabel nor repeat images, and a FIFO is never opened.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    root_real = os.path.realpath(root)
    skipped, classes = [], []
    for d in sorted(root.iterdir()):
        if d.name.startswith("."):
            continue
        if d.is_symlink():
            if d.is_dir():
                skipped.append((str(d), link_reason(str(d), root_real, root_real)))
        elif d.is_dir():
            classes.append(d.name)
    if not classes:
        raise ValueError(f"{root} holds no class folders: expected {root}/<class>/<image> "
                         "(the ImageNet / ImageFolder layout)" + skipped_note(skipped))
    exts = tuple(e.lower() for e in extensions)
    samples, empty = [], []
    for label, name in enumerate(classes):
        w = walk_files(root / name, lambda f: f.lower().endswith(exts) and not f.startswith("."))
        skipped += w.skipped
        if not w.files:
            empty.append(name)
        samples += [(p, label) for p in w.files]
    if empty:
        raise ValueError(f"{root}: class folder(s) with no images ({', '.join(exts)}): "
                         f"{', '.join(empty)}; remove them or add images" + skipped_note(skipped))
    if skipped:
        warnings.warn(f"{root}: skipped {len(skipped)} link(s) or non-regular file(s), e.g. "
                      f"{skipped[0][0]}: {skipped[0][1]} (`resnetlab data info` lists them)",
                      Notice, stacklevel=2)
    return FolderSet(root, samples, classes, skipped)


def describe_folder(root: str | Path) -> dict:
    """Classes and per-class counts of an image folder, per split when it holds train/ val/
    test/ sub-folders (the ImageNet layout), else of the folder itself."""
    root = Path(root)
    names = [s for s in ("train", "val", "test") if (root / s).is_dir()]
    with warnings.catch_warnings():  # the links skipped are listed in the info itself
        warnings.simplefilter("ignore")
        scans = {s: scan_folder(root / s) for s in names} if names else {"all": scan_folder(root)}
    first = next(iter(scans.values()))
    return {
        "name": root.name, "location": str(root), "format": "image folder",
        "classes": first.classes,
        "skipped": [{"path": p, "reason": why} for fs in scans.values() for p, why in fs.skipped],
        "splits": {s: {"size": len(fs), "class_counts": [sum(1 for _, lab in fs.samples
                                                              if lab == c)
                                                          for c in range(len(fs.classes))]}
                   for s, fs in scans.items()},
    }
