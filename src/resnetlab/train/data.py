"""The data of a run: its options (DataOptions) and train / val / test splits, built the same
way by training and by evaluation (so `evaluate --split val` sees the exact held-out images;
their loaders: train/loaders.py).

Built-in sets (cifar10, cifar100, mnist, fashion-mnist) live in memory (DeviceLoader); any
other `data` is an image folder holding train/<class>/* and val/<class>/* (or test/), read
by FolderLoader with the paper's scale augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from resnetlab.data import (
    SOURCES,
    ImageSet,
    channel_stats,
    load_dataset,
    scan_folder,
    split_validation,
    stratified_subset,
)
from resnetlab.data.pipeline.auto import choose_pipeline, inspect_images, read_images
from resnetlab.data.pipeline.normalization import Normalization
from resnetlab.data.sets.datasets import stratified_indices
from resnetlab.data.sets.folders import FolderSet
from resnetlab.data.sets.sources import builtin_name, unknown_data_set
from resnetlab.train.config import TrainConfig


@dataclass(frozen=True)
class DataOptions:
    """What choosing, splitting, normalising and loading a run's data reads: the recipe keys
    of the same names (data_options(config) picks them), plus whether val_size scales with a
    subset (scale_val_size) and the reference run's training images."""

    data: str
    data_root: str | None
    channels: int
    subset: int | None
    val_size: int
    seed: int
    norm_stats: str
    normalize: str
    folder_pipeline: str
    image_size: int
    pad: int
    flip: bool
    alternate_flip: bool
    train_sizes: list[int]
    size_mode: str
    scale_min: int
    scale_max: int
    eval_resize: int
    test_scales: list[int]
    lighting: float
    workers: int
    channels_last: bool
    augment: dict[str, Any] = field(default_factory=dict)  # policies.make_augment's keywords
    crop: str = "scale"
    rrc_scale: tuple[float, float] = (0.08, 1.0)
    rrc_ratio: tuple[float, float] = (0.75, 4 / 3)
    eval_size: int = 0
    scale_val_size: bool = False
    reference_train_images: int | None = None


def data_options(config: TrainConfig) -> DataOptions:
    """The data's options from a run's config: the one place data loading meets it."""
    ref = config.schedule_reference or {}
    return DataOptions(
        data=config.data, data_root=config.data_root, channels=config.channels,
        subset=config.subset, val_size=config.val_size, seed=config.seed,
        norm_stats=config.norm_stats, normalize=config.normalize,
        folder_pipeline=config.folder_pipeline, image_size=config.image_size, pad=config.pad,
        flip=config.flip, alternate_flip=config.alternate_flip,
        train_sizes=config.train_sizes, size_mode=config.size_mode, scale_min=config.scale_min,
        scale_max=config.scale_max,
        eval_resize=config.eval_resize, test_scales=config.test_scales,
        lighting=config.lighting, workers=config.workers, channels_last=config.channels_last,
        augment=dict(policy=config.augment, num_ops=config.randaugment_ops,
                     magnitude=config.randaugment_magnitude,
                     magnitude_std=config.randaugment_magnitude_std,
                     random_erase=config.random_erase, color_jitter=config.color_jitter),
        crop=config.crop, rrc_scale=tuple(config.rrc_scale), rrc_ratio=tuple(config.rrc_ratio),
        eval_size=config.eval_size,
        scale_val_size="val_size" in ref.get("scale", []),
        reference_train_images=ref.get("train_images"))


@dataclass
class Splits:
    """test may be None (a folder with train/ and val/ only: val is reported, as val);
    notes: how the pipeline was chosen, one sentence each (report.md's "Data")."""

    train: ImageSet | FolderSet
    val: ImageSet | FolderSet | None
    test: ImageSet | FolderSet | None
    classes: list[str]
    normalization: Normalization
    input_size: list[int]
    notes: list[str] = field(default_factory=list)
    full_train_images: int = 0  # the data set's training images, before subset and hold-out

    @property
    def folder(self) -> bool:
        return isinstance(self.train, FolderSet)


def is_builtin(name: str) -> bool:
    """Whether `data` names a built-in set (by name or alias: data.sets.sources.builtin_name);
    anything else is an image folder."""
    return builtin_name(name) is not None


def folder_root(opts: DataOptions) -> Path:
    """The image folder of a non-built-in data set: data_root, else `data` as a path."""
    root = Path(opts.data_root or opts.data).expanduser()
    if not (root / "train").is_dir() and not opts.data_root and not root.is_dir():
        raise unknown_data_set(opts.data)
    if not (root / "train").is_dir():
        raise (FileNotFoundError if opts.data_root else ValueError)(
            f"unknown data set {opts.data!r}: the built-in ones are {', '.join(SOURCES)}; "
            f"any folder of class folders works: train/<class>/<image> (val/ and test/ in the "
            f"same layout are optional) "
            f"(give it as --data PATH or --data-root PATH; {root / 'train'} is not a folder)")
    return root


def load_splits(opts: DataOptions, input_size: list[int] | None = None,
                init_normalization: dict[str, Any] | None = None) -> Splits:
    """The run's splits: optional stratified subset of train, then the validation hold-out.

    input_size ([C, H, W]) and init_normalization: the init weights' (fine-tuning), or the
    trained model's when evaluating: they set a folder's channels and small-image size, and
    the normalisation under norm_stats "auto"/"init"."""
    if is_builtin(opts.data):
        return _imageset_splits(opts, input_size, init_normalization)
    return _folder_splits(opts, input_size, init_normalization)


def _imageset_splits(opts: DataOptions, input_size=None, init_norm=None) -> Splits:
    train = load_dataset(opts.data, "train", root=opts.data_root)
    test = load_dataset(opts.data, "test", root=opts.data_root)
    notes = []
    if input_size and input_size[0] != train.images.shape[1] and not opts.channels:
        train, test = (_to_channels(ds, input_size[0]) for ds in (train, test))
        notes.append(f"images converted to {input_size[0]} channel(s): the init weights' input")
    elif opts.channels and opts.channels != train.images.shape[1]:
        train, test = (_to_channels(ds, opts.channels) for ds in (train, test))
        notes.append(f"images converted to {opts.channels} channel(s) (set by channels)")
    full = len(train)
    if opts.subset is not None:
        _check_subset(opts, len(train))
        train = stratified_subset(train, opts.subset, seed=opts.seed)
    val = None
    val_size = held_out(opts, full)
    if val_size:
        _check_val(opts, val_size, len(train))
        train, val = split_validation(train, val_size, seed=opts.seed)
    norm = _chosen_normalization(opts, train, init_norm, notes)
    return Splits(train, val, test, list(train.classes), norm,
                  list(train.images.shape[1:]), notes, full)


def _to_channels(ds: ImageSet, channels: int) -> ImageSet:
    """Gray -> RGB (the channel repeated) or RGB -> gray (ITU-R 601 luma)."""
    x = ds.images
    if channels == 3 and x.shape[1] == 1:
        x, mean, std = x.expand(-1, 3, -1, -1).contiguous(), ds.mean * 3, ds.std * 3
    elif channels == 1 and x.shape[1] == 3:
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        x = (x.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
        mean, std = channel_stats(x)
    else:
        return ds
    return replace(ds, images=x, mean=tuple(mean), std=tuple(std))


def _chosen_normalization(opts: DataOptions, train: ImageSet, init_norm,
                          notes: list[str]) -> Normalization:
    """norm_stats: "auto" (the init weights' when fine-tuning, else the data's), "data",
    "init", "imagenet"; a note says which was used."""
    use = opts.norm_stats
    if use == "auto":
        use = "init" if init_norm and opts.normalize != "none" else "data"
    if use == "init":
        if not init_norm:
            raise ValueError("norm_stats=init: the init weights carry no normalisation; use "
                             "norm_stats=data")
        norm = Normalization.from_meta(init_norm)
        if norm.channels != train.images.shape[1]:
            raise ValueError(f"the init weights normalise {norm.channels} channel(s) but the "
                             f"images have {train.images.shape[1]}: set channels="
                             f"{norm.channels}")
        notes.append(f"normalisation from the init weights ({_describe_norm(norm)})")
        return norm
    if use == "imagenet":
        notes.append("normalisation: ImageNet's statistics (norm_stats=imagenet)")
        return Normalization.imagenet()
    norm = normalization(opts.normalize, train)
    if opts.normalize != "none":
        notes.append(f"normalisation computed from the training split "
                     f"({_describe_norm(norm)})")
    return norm


def _describe_norm(norm: Normalization) -> str:
    if norm.kind != "channel":
        return norm.kind
    return ("mean " + ", ".join(f"{m:.3f}" for m in norm.mean) + "; std "
            + ", ".join(f"{s:.3f}" for s in norm.std))


def _folder_splits(opts: DataOptions, input_size=None, init_norm=None) -> Splits:
    """train/ + val/ + test/: val selects, test is reported; train/ + val/: val (named val);
    train/ only: a stratified hold-out of val_size (default 10%) is the val split.
    With val_size set, the hold-out is val and val/ (or test/) is the test split, as before."""
    root = folder_root(opts)
    train = scan_folder(root / "train")
    if len(train.classes) < 2:
        raise ValueError(f"{root / 'train'} holds one class folder ({train.classes[0]}): a "
                         "classifier needs at least two, one folder of images per class")
    found = {s: scan_folder(root / s) for s in ("val", "test") if (root / s).is_dir()}
    for s, ds in found.items():
        if ds.classes != train.classes:
            raise ValueError(f"{root / s} and {root / 'train'} hold different class folders")
    notes = []
    val_size = opts.val_size
    if opts.val_size:
        test = found["val"] if "val" in found else found.get("test")
        val = None
    else:
        val, test = found.get("val"), found.get("test")
        if val is None and test is None:
            val_size = max(len(train.classes), len(train) // 10)
            notes.append(f"train/ only: {val_size} training images (10%, stratified) are "
                         "held out for validation (set val_size to change it)")
    labels = torch.tensor([label for _, label in train.samples])
    full = len(train)

    def pick(ds, idx):
        return replace(ds, samples=[ds.samples[i] for i in idx.tolist()])

    if opts.subset is not None:
        _check_subset(opts, len(train))
        idx = stratified_indices(labels, opts.subset, opts.seed)
        train, labels = pick(train, idx), labels[idx]
    if val is None and val_size:
        if opts.val_size:  # scaled with a subset when the recipe says so
            val_size = held_out(opts, full)
        _check_val(opts, val_size, len(train))
        held = stratified_indices(labels, val_size, opts.seed)
        keep = torch.ones(len(train), dtype=torch.bool)
        keep[held] = False
        train, val = pick(train, keep.nonzero().flatten()), pick(train, held)
    if opts.folder_pipeline == "imagenet":
        return Splits(train, val, test, list(train.classes), Normalization.imagenet(),
                      [3, opts.image_size, opts.image_size], notes, full)
    splits = _chosen_folder_pipeline(opts, train, val, test, input_size, init_norm, notes)
    return replace(splits, full_train_images=full)


def _chosen_folder_pipeline(opts, train, val, test, input_size, init_norm, notes) -> Splits:
    """folder_pipeline auto / small / large: size, channels and normalisation from the data
    (or the init weights); "small" folders are read into memory as ImageSets."""
    stats = inspect_images(train.samples, seed=opts.seed)
    choice = choose_pipeline(stats, opts.folder_pipeline, image_size=opts.image_size,
                             channels=opts.channels, init_size=input_size)
    notes = choice.reasons + notes
    classes = list(train.classes)
    if choice.kind == "small":
        def load(ds, split):
            if ds is None:
                return None
            images = read_images([p for p, _ in ds.samples], choice.size, choice.channels)
            labels = torch.tensor([lab for _, lab in ds.samples], dtype=torch.int64)
            return images, labels, split

        parts = [load(train, "train"), load(val, "val"), load(test, "test")]
        mean, std = channel_stats(parts[0][0])
        sets = [None if p is None else ImageSet(p[0], p[1], classes, mean, std,
                                                 name=opts.data, split=p[2]) for p in parts]
        train_set, val_set, test_set = sets
        norm = _chosen_normalization(opts, train_set, init_norm, notes)
        notes.append(f"augmentation: pad {opts.pad} px + random crop + "
                     f"{'flip' if opts.flip else 'no flip'}")
        return Splits(train_set, val_set, test_set, classes, norm,
                      list(train_set.images.shape[1:]), notes)
    # large: the folder loader (RGB) at image_size crops, normalisation from a sample
    sample = stratified_indices(torch.tensor([lab for _, lab in train.samples]),
                                min(len(train), 256), opts.seed)
    paths = [train.samples[i][0] for i in sample.tolist()]
    probe = ImageSet(read_images(paths, (64, 64), 3), torch.zeros(len(paths), dtype=torch.int64),
                     classes[:1], (0.0,) * 3, (1.0,) * 3)
    probe.mean, probe.std = channel_stats(probe.images)
    norm = _chosen_normalization(opts, probe, init_norm, notes)
    if norm.kind != "channel" or norm.channels != 3:
        raise ValueError("large images are read as RGB and normalised per channel: set "
                         "normalize=channel")
    notes.append(f"augmentation: scale [{opts.scale_min}, {opts.scale_max}] + "
                 f"{opts.image_size} px crop + flip; evaluation: resize {opts.eval_resize}"
                 f" + centre crop")
    return Splits(train, val, test, classes, norm, [3, opts.image_size, opts.image_size],
                  notes)


def _check_subset(opts: DataOptions, n: int) -> None:
    if opts.subset > n:
        raise ValueError(f"subset={opts.subset} exceeds the {n} training images of "
                         f"{opts.data}")


def held_out(opts: DataOptions, full_train_images: int) -> int:
    """The validation images to hold out: val_size, or, when the recipe scales it with a
    subset (scale_val_size), the same fraction of the subset as val_size is of the whole set
    (reference_train_images, else the data set's full_train_images)."""
    if opts.val_size and opts.subset is not None and opts.scale_val_size:
        whole = opts.reference_train_images or full_train_images
        return max(1, round(opts.val_size * opts.subset / whole))
    return opts.val_size


def _check_val(opts: DataOptions, val_size: int, n: int) -> None:
    if val_size >= n:
        of = f"the subset of {n}" if opts.subset is not None else str(n)
        raise ValueError(f"val_size={val_size} leaves no training images out of {of}: hold "
                         f"out fewer with --val-size N (e.g. --val-size {max(1, n // 10)}), or "
                         "--val-size 0 for none")


def normalization(normalize: str, train: ImageSet) -> Normalization:
    """How inputs are normalised under the normalize key (model.json records its to_meta())."""
    return Normalization.from_setting(
        normalize, train.mean, train.std,
        train.pixel_mean() if normalize == "pixel" else None, train.images.shape[1])
