"""Where each small data set lives: its official files, checksums and URLs, as data.

find() looks in --root, $RESNETLAB_DATA, the user cache, then known system folders;
ensure() also extracts a dropped-in archive or downloads the official files, and otherwise
raises a FileNotFoundError that says what is missing, where it looked and how to fix it.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from resnetlab.data.sets.download import DownloadError, download_file, md5sum


@dataclass(frozen=True)
class Remote:
    """One official file: its name, MD5 and the URLs (mirrors) it can be fetched from."""

    filename: str
    md5: str
    urls: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """One official distribution of a data set: the files of each split in one folder."""

    format: str  # "idx" | "cifar-bin" | "cifar-py"
    folder: str  # sub-folder of the data set folder that holds the files ("" = itself)
    train: tuple[str, ...]
    test: tuple[str, ...]
    meta: tuple[str, ...] = ()
    archive: Remote | None = None  # a .tar.gz holding `folder`
    remotes: tuple[Remote, ...] = ()  # or one download per file


@dataclass(frozen=True)
class Source:
    name: str
    layouts: tuple[Layout, ...]  # the first one is what gets downloaded
    classes: tuple[str, ...] = ()  # when the files do not name them
    label_key: str = "labels"  # CIFAR python: which labels; CIFAR binary: label_bytes below
    label_bytes: int = 1
    names_key: str = "label_names"
    subdirs: tuple[str, ...] = ()  # also looked for under ROOT/<subdir>
    system_dirs: tuple[str, ...] = ()
    debian_package: str | None = None
    homepage: str = ""
    aliases: tuple[str, ...] = field(default=())


def _idx_layout(urls: tuple[str, ...], md5s: dict[str, str]) -> Layout:
    files = {k: Remote(k, v, tuple(u + k for u in urls)) for k, v in md5s.items()}
    return Layout(
        "idx", "",
        train=("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        test=("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        remotes=tuple(files.values()),
    )


TORONTO = "https://www.cs.toronto.edu/~kriz/"
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "mnist",
            (_idx_layout(
                ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "http://yann.lecun.com/exdb/mnist/"),
                {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                 "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
                 "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                 "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}),),
            classes=tuple(str(i) for i in range(10)),
            subdirs=("mnist", "MNIST/raw"),
            system_dirs=("/usr/share/datasets/mnist",),
            homepage="http://yann.lecun.com/exdb/mnist/",
        ),
        Source(
            "fashion-mnist",
            (_idx_layout(
                ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                 "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
                 "data/fashion/"),
                {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                 "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                 "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                 "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}),),
            classes=FASHION_CLASSES,
            subdirs=("fashion-mnist", "FashionMNIST/raw"),
            system_dirs=("/usr/share/datasets/fashion-mnist",),
            debian_package="dataset-fashion-mnist",
            homepage="https://github.com/zalandoresearch/fashion-mnist",
            aliases=("fashion_mnist", "fashionmnist", "fmnist"),
        ),
        Source(
            "cifar10",
            (
                Layout("cifar-bin", "cifar-10-batches-bin",
                       train=tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
                       test=("test_batch.bin",), meta=("batches.meta.txt",),
                       archive=Remote("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530",
                                      (TORONTO + "cifar-10-binary.tar.gz",))),
                Layout("cifar-py", "cifar-10-batches-py",
                       train=tuple(f"data_batch_{i}" for i in range(1, 6)),
                       test=("test_batch",), meta=("batches.meta",),
                       archive=Remote("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a",
                                      (TORONTO + "cifar-10-python.tar.gz",))),
            ),
            subdirs=("cifar10", "cifar-10"),
            homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
            aliases=("cifar-10", "cifar_10"),
        ),
        Source(
            "cifar100",
            (
                Layout("cifar-bin", "cifar-100-binary", train=("train.bin",), test=("test.bin",),
                       meta=("fine_label_names.txt",),
                       archive=Remote("cifar-100-binary.tar.gz",
                                      "03b5dce01913d631647c71ecec9e9cb8",
                                      (TORONTO + "cifar-100-binary.tar.gz",))),
                Layout("cifar-py", "cifar-100-python", train=("train",), test=("test",),
                       meta=("meta",),
                       archive=Remote("cifar-100-python.tar.gz",
                                      "eb9058c3a382ffc7106e4002c42a8d85",
                                      (TORONTO + "cifar-100-python.tar.gz",))),
            ),
            label_key="fine_labels", label_bytes=2, names_key="fine_label_names",
            subdirs=("cifar100", "cifar-100"),
            homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
            aliases=("cifar-100", "cifar_100"),
        ),
    )
}


# Every spelling of a built-in set (its name and aliases, lower case) -> its name.
NAMES = {n: s.name for s in SOURCES.values() for n in (s.name, *s.aliases)}
FOLDER_HINT = "or a folder of class folders: train/<class>/<image> (val/, test/ optional)"


def builtin_name(name: str) -> str | None:
    """The built-in set NAME means, by its name or an alias in any case ('fmnist',
    'CIFAR-10' -> 'fashion-mnist', 'cifar10'); None for anything else (an image folder, to the
    commands that take one). The one reading of a data set name: train, data, bench,
    reproduce, evaluate and analyze all go through it."""
    return NAMES.get(name.strip().lower())


def unknown_data_set(name: str, folders: bool = True) -> ValueError:
    """The error for a name that is no built-in set (nor, where folders are taken, a
    folder): the built-in names, the closest spellings first."""
    close = difflib.get_close_matches(name.strip().lower(), list(NAMES), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    known = ", ".join(s.name + (f" ({', '.join(s.aliases)})" if s.aliases else "")
                      for s in SOURCES.values())
    tail = f", {FOLDER_HINT}" if folders else ""
    return ValueError(f"unknown data set {name!r}: {hint}the built-in ones are {known}{tail}")


def resolve_data(name: str, folders: bool = True) -> str:
    """A data set argument as the commands take it: a built-in set's name (see builtin_name)
    or, with folders, an existing folder as given; anything else is unknown_data_set."""
    found = builtin_name(name)
    if found:
        return found
    if folders and Path(name).expanduser().is_dir():
        return name
    raise unknown_data_set(name, folders)


def get_source(name: str) -> Source:
    found = builtin_name(name)
    if found is None:
        raise unknown_data_set(name)
    return SOURCES[found]


@dataclass(frozen=True)
class Found:
    """A complete copy of a data set on disk: its layout and the path of every file."""

    source: Source
    layout: Layout
    folder: Path
    paths: dict[str, Path]

    def split_paths(self, split: str) -> list[Path]:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        return [self.paths[f] for f in getattr(self.layout, split)]

    def meta_paths(self) -> list[Path]:
        return [self.paths[f] for f in self.layout.meta]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "resnetlab"


def search_roots(root: str | Path | None = None) -> list[Path]:
    """The user-controlled places, in order: root, $RESNETLAB_DATA, the user cache."""
    roots = [Path(root).expanduser()] if root else []
    if os.environ.get("RESNETLAB_DATA"):
        roots.append(Path(os.environ["RESNETLAB_DATA"]).expanduser())
    roots.append(cache_dir())
    return roots


def candidate_dirs(source: Source, root: str | Path | None = None) -> list[Path]:
    """Every folder that may hold the data set, in the order they are searched."""
    dirs: list[Path] = []
    distinct = all(lay.folder for lay in source.layouts)  # MNIST and Fashion share file names
    for i, base in enumerate(search_roots(root)):
        dirs += [base / sub for sub in (source.name, *source.subdirs)]
        if distinct or (root and i == 0):
            dirs.append(base)
    dirs += [Path(d) for d in source.system_dirs]
    return list(dict.fromkeys(dirs))


def _variants(filename: str) -> list[str]:
    """Names a file is found under: as distributed, gunzipped, and with '.idx' for '-idx'."""
    names = [filename]
    if filename.endswith(".gz"):
        names.append(filename[:-3])
    names += [n.replace("-idx", ".idx") for n in names if "-idx" in n]
    return names


def _locate(folder: Path, layout: Layout) -> dict[str, Path] | None:
    paths = {}
    for f in (*layout.train, *layout.test, *layout.meta):
        hit = next((folder / v for v in _variants(f) if (folder / v).is_file()), None)
        if hit is None:
            return None
        paths[f] = hit
    return paths


def find(name: str, root: str | Path | None = None) -> Found | None:
    """The first complete copy of the data set in the search order, or None."""
    source = get_source(name)
    for d in candidate_dirs(source, root):
        for layout in source.layouts:
            paths = _locate(d / layout.folder, layout)
            if paths is not None:
                return Found(source, layout, d / layout.folder, paths)
    return None


def download_dir(source: Source, root: str | Path | None = None) -> Path:
    """Where a download goes: ROOT/<name> for the first of root, $RESNETLAB_DATA, the cache."""
    return search_roots(root)[0] / source.name


def _extract(archive: Path, layout: Layout, dest: Path) -> None:
    """Unpack layout.folder from a .tar.gz into dest/, atomically (temp folder + rename)."""
    with tempfile.TemporaryDirectory(dir=dest, prefix=".extract-") as tmp:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as e:
            raise ValueError(f"{archive}: corrupt or unsafe archive ({e}); delete it and fetch it "
                             "again") from e
        got = Path(tmp) / layout.folder
        if _locate(got, layout) is None:
            raise ValueError(f"{archive}: the archive lacks {layout.folder}/ with the "
                             "expected files")
        target = dest / layout.folder
        if target.exists():
            shutil.rmtree(target)
        os.replace(got, target)


def _from_archive(source: Source, root, download: bool, progress: bool) -> Found | None:
    """Extract an archive already in a writable candidate folder, else download one."""
    for d in candidate_dirs(source, root):
        for layout in source.layouts:
            a = layout.archive
            if a and (d / a.filename).is_file() and os.access(d, os.W_OK):
                if md5sum(d / a.filename) != a.md5:
                    raise ValueError(f"{d / a.filename}: MD5 differs from the official {a.md5}; "
                                     "delete it and fetch it again")
                _extract(d / a.filename, layout, d)
                return find(source.name, root)
    if not download:
        return None
    dest = download_dir(source, root)
    layout = source.layouts[0]
    if layout.archive:
        a = layout.archive
        download_file(a.urls, dest / a.filename, a.md5, progress=progress)
        _extract(dest / a.filename, layout, dest)
    else:
        for r in layout.remotes:
            if not (dest / r.filename).is_file():
                download_file(r.urls, dest / r.filename, r.md5, progress=progress)
    return find(source.name, root)


def ensure(name: str, root: str | Path | None = None, download: bool = True,
           progress: bool = True) -> Found:
    """A complete copy of the data set: found, extracted, or downloaded and verified."""
    source = get_source(name)
    found = find(name, root)
    if found:
        return found
    reason = "downloading is turned off"
    try:
        found = _from_archive(source, root, download, progress)
    except DownloadError as e:
        reason = str(e)
    if found:
        return found
    raise FileNotFoundError(missing_message(source, root, reason))


def missing_message(source: Source, root, reason: str) -> str:
    layout = source.layouts[0]
    if layout.remotes:
        needed = ", ".join(r.filename for r in layout.remotes) + " (gzipped or not)"
        urls = [r.urls[0] for r in layout.remotes]
    else:
        needed = (" or ".join(f"{lay.folder}/" for lay in source.layouts) + ", the folders in "
                  + " / ".join(lay.archive.filename for lay in source.layouts)
                  + " (an archive placed in one of these folders is verified and extracted)")
        urls = list(layout.archive.urls)
    lines = [
        f"{source.name}: data set not found; " + reason.replace("\n", "\n  "),
        f"  Needed: {needed}",
        "  Looked in:",
        *[f"    {d}" for d in candidate_dirs(source, root)],
        "  To provide it, one of:",
        f"    - connect to the internet and run `resnetlab data get {source.name}`",
        f"    - download {', '.join(urls)} into {download_dir(source, root)}/",
        "    - point --root or $RESNETLAB_DATA at a folder that holds the files",
    ]
    if source.debian_package:
        where = f" (installs into {source.system_dirs[0]})" if source.system_dirs else ""
        lines.append(f"    - on Debian/Ubuntu: sudo apt-get install {source.debian_package}{where}")
    if source.homepage:
        lines.append(f"  Official page: {source.homepage}")
    return "\n".join(lines)
