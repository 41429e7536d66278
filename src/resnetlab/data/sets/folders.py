"""Image folders in the ImageNet / torchvision ImageFolder layout: root/<class>/<image>."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


@dataclass
class FolderSet:
    """(path, label) samples of an image folder and its class names (sorted folder names)."""

    root: Path
    samples: list[tuple[Path, int]]
    classes: list[str]

    def __len__(self) -> int:
        return len(self.samples)


def scan_folder(root: str | Path, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> FolderSet:
    """One sub-folder per class, images anywhere below it; other files are ignored."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ValueError(f"{root} holds no class folders: expected {root}/<class>/<image> "
                         "(the ImageNet / ImageFolder layout)")
    exts = tuple(e.lower() for e in extensions)
    samples, empty = [], []
    for label, name in enumerate(classes):
        found = sorted(
            Path(dirpath) / f
            for dirpath, _, files in os.walk(root / name, followlinks=True)
            for f in files
            if f.lower().endswith(exts) and not f.startswith(".")
        )
        if not found:
            empty.append(name)
        samples += [(p, label) for p in found]
    if empty:
        raise ValueError(f"{root}: class folder(s) with no images ({', '.join(exts)}): "
                         f"{', '.join(empty)}; remove them or add images")
    return FolderSet(root, samples, classes)


def describe_folder(root: str | Path) -> dict:
    """Classes and per-class counts of an image folder, per split when it holds train/ val/
    test/ sub-folders (the ImageNet layout), else of the folder itself."""
    root = Path(root)
    names = [s for s in ("train", "val", "test") if (root / s).is_dir()]
    scans = {s: scan_folder(root / s) for s in names} if names else {"all": scan_folder(root)}
    first = next(iter(scans.values()))
    return {
        "name": root.name, "location": str(root), "format": "image folder",
        "classes": first.classes,
        "splits": {s: {"size": len(fs), "class_counts": [sum(1 for _, lab in fs.samples
                                                              if lab == c)
                                                          for c in range(len(fs.classes))]}
                   for s, fs in scans.items()},
    }
