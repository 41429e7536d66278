"""TrainConfig: every training choice as one typed, flat dataclass, loaded from a recipe YAML.

Recipes ship in resnetlab/train/recipes/; any key can be overridden (`--set key=value`).
Unknown keys are refused with close matches; values are checked against the field's type.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RECIPES_DIR = Path(__file__).parent / "recipes"

# Keys that say how a run is executed, not what it computes: changing them on resume is allowed
# (fit refuses a folder whose config differs in any other key). This list may grow; the run
# cache's list (reproduce.runner.CACHE_RUNTIME_KEYS) is frozen instead, since growing it would
# change the hash of finished runs: "recipe" and "dist_timeout" are runtime keys here but hashed
# there.
RESUME_RUNTIME_KEYS = ("recipe", "device", "compile", "data_root", "log_every", "tensorboard",
                       "workers", "dist_timeout", "threads", "progress")
RUNTIME_KEYS = RESUME_RUNTIME_KEYS  # the old name, kept for one release


@dataclass
class TrainConfig:
    """A training run. Units: lr per `batch_size` (global) examples; iterations are optimizer
    steps; errors are in %; `epochs` is used only when `iters` is unset; threads 0 = auto
    (the CPU cores not busy with other processes)."""

    recipe: str = ""
    # what to train, on what
    model: str = "resnet20"
    model_overrides: dict = field(default_factory=dict)
    data: str = "fashion-mnist"
    data_root: str | None = None
    subset: int | None = None
    val_size: int = 0
    # length
    iters: int | None = None
    epochs: float | None = None
    batch_size: int = 128
    # optimizer: SGD
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    wd_exclude: list[str] = field(default_factory=list)
    # learning-rate schedule
    schedule: str = "step"
    milestones: list[int] = field(default_factory=list)
    milestone_unit: str = "iters"
    gamma: float = 0.1
    final_lr: float = 0.0
    plateau_patience: int = 3
    plateau_threshold: float = 0.1
    warmup: str = "none"
    warmup_iters: int = 0
    warmup_lr: float = 0.0
    warmup_until_error: float | None = None
    warmup_min_depth: int = 0
    # The full-length run that milestones, warmup_iters (and val_size) were stated for, set by
    # load_recipe(rescale=True) when a run is shortened or lengthened (--iters / --epochs /
    # --subset): {"iters": N} or {"epochs": E, "train_images": M or None}, and "scale": the
    # keys to move to the same fractions of this run. {} (the default): used as stated.
    schedule_reference: dict = field(default_factory=dict)
    # regularisation
    label_smoothing: float = 0.0
    ema: float = 0.0
    grad_clip: float = 0.0
    # augmentation and input (in-memory sets: pad + crop + flip; image folders: scale
    # augmentation to image_size crops, PCA lighting, and the test views)
    pad: int = 4
    flip: bool = True
    normalize: str = "channel"
    image_size: int = 224
    scale_min: int = 256
    scale_max: int = 480
    lighting: float = 0.1
    eval_resize: int = 256
    test_views: str = "center"
    test_scales: list[int] = field(default_factory=lambda: [224, 256, 384, 480, 640])
    # own data (image folders): "imagenet" = the paper's pipeline with ImageNet statistics
    # (as before these keys existed); "auto" picks "small" (native size in memory, pad-crop-
    # flip, like CIFAR) or "large" (ImageNet-style at image_size) from the images' sizes.
    # channels 0 = from the files (or the init weights); norm_stats: "auto" = the init
    # weights' when fine-tuning, else the training split's (ImageNet's for "imagenet")
    folder_pipeline: str = "imagenet"
    channels: int = 0
    norm_stats: str = "auto"
    # fine-tuning: start from weights (a run folder, model file, foreign checkpoint or a
    # published name); model "auto" = the weights' architecture; freeze = stem + N stages
    init: str | None = None
    init_source: str | None = None
    freeze: int = 0
    # speed
    amp: str = "auto"
    channels_last: bool = True
    compile: bool = False
    device: str = "auto"
    threads: int = 0
    workers: int = 4
    # multi-process (torchrun): BN over the global batch; seconds before a collective fails
    sync_bn: bool = False
    dist_timeout: float = 600.0
    # reproducibility
    seed: int = 0
    deterministic: bool = False
    # bookkeeping
    eval_every: int = 0
    eval_test: bool = True
    eval_batch_size: int = 512
    checkpoint_every: int = 1000
    log_every: int = 20
    # null (auto): TensorBoard logs when it is installed; true: required; false: off
    tensorboard: bool | None = None
    progress: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def total_iters(self, batches_per_epoch: int) -> int:
        """Optimizer steps in the whole run: `iters`, else `epochs` worth of batches."""
        if self.iters is not None:
            return self.iters
        return max(1, math.ceil(self.epochs * batches_per_epoch))

    def milestone_iters(self, batches_per_epoch: int) -> list[int]:
        scale = batches_per_epoch if self.milestone_unit == "epochs" else 1
        return [round(m * scale) for m in self.milestones]

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the key and the fix for any value out of its range."""
        for key, options in CHOICES.items():
            value = getattr(self, key)
            if value not in options and not (key == "device" and _is_device(value)):
                raise ValueError(f"{key}={value!r} is not one of {list(options)}")
        for item in self.wd_exclude:
            if item not in WD_EXCLUDE:
                raise ValueError(f"wd_exclude item {item!r} is not one of {list(WD_EXCLUDE)}")
        if (self.iters is None) == (self.epochs is None):
            raise ValueError("set exactly one of iters (optimizer steps) and epochs; got "
                             f"iters={self.iters}, epochs={self.epochs}")
        positive = {"batch_size": self.batch_size, "eval_batch_size": self.eval_batch_size,
                    "iters": self.iters if self.iters is not None else 1,
                    "epochs": self.epochs if self.epochs is not None else 1,
                    "lr": self.lr, "log_every": self.log_every}
        for key, value in positive.items():
            if not value > 0:
                raise ValueError(f"{key} must be > 0, got {value}")
        nonneg = ("val_size", "weight_decay", "momentum", "warmup_iters", "pad", "grad_clip",
                  "lighting", "freeze",
                  "eval_every", "checkpoint_every", "threads", "workers", "seed", "final_lr",
                  "warmup_lr", "plateau_patience", "plateau_threshold", "warmup_min_depth")
        for key in nonneg:
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0, got {getattr(self, key)}")
        if not 0 < self.image_size <= self.eval_resize or self.scale_min > self.scale_max:
            raise ValueError(f"image sizes must satisfy 0 < image_size ({self.image_size}) <= "
                             f"eval_resize ({self.eval_resize}) and scale_min "
                             f"({self.scale_min}) <= scale_max ({self.scale_max})")
        if self.image_size > self.scale_min:
            raise ValueError(f"image_size {self.image_size} exceeds scale_min {self.scale_min}: "
                             "a crop cannot be larger than the image")
        if self.subset is not None and self.subset < 1:
            raise ValueError(f"subset must be a positive number of images, got {self.subset}")
        ref = self.schedule_reference
        if ref and (set(ref) - {"iters", "epochs", "train_images", "scale"}
                    or not set(ref.get("scale", [])) <= set(RESCALED)
                    or ("iters" in ref) == ("epochs" in ref)):
            raise ValueError(f"schedule_reference={ref!r}: give {{}} or {{iters: N}} / "
                             "{epochs: E}, with train_images (null = all) and scale (a list "
                             f"of {', '.join(RESCALED)})")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema is a decay in [0, 1) (0 = off), got {self.ema}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        if self.schedule == "plateau" and not self.val_size:
            raise ValueError("schedule=plateau watches the validation error: set val_size > 0 "
                             "(the test set is never used to steer training)")
        if self.channels not in (0, 1, 3):
            raise ValueError(f"channels must be 0 (from the files), 1 or 3, got {self.channels}")
        if self.norm_stats == "init" and not self.init:
            raise ValueError("norm_stats=init needs init weights (--init SOURCE)")
        if self.warmup != "none" and not self.warmup_iters:
            raise ValueError(f"warmup={self.warmup!r} needs warmup_iters > 0")
        return self


# The schedule keys each choice of `schedule` / `warmup` uses; a SCHEDULE_KEYS key set for a
# schedule that ignores it is refused by load_recipe when an override sets it (a recipe may keep the
# values of another schedule, e.g. paper-imagenet's milestones for --set schedule=step).
SCHEDULE_KEYS = {"milestones": ("step",), "milestone_unit": ("step",),
                 "gamma": ("step", "plateau"), "final_lr": ("cosine", "onecycle", "plateau"),
                 "plateau_patience": ("plateau",), "plateau_threshold": ("plateau",)}
WARMUP_KEYS = {"warmup_iters": ("linear", "constant"), "warmup_lr": ("linear", "constant"),
               "warmup_until_error": ("constant",), "warmup_min_depth": ("linear", "constant")}


def ignored_keys(config: TrainConfig, warmup: bool = True) -> set[str]:
    """The schedule keys that config's schedule (and, with warmup, its warm-up) never read."""
    out = {k for k, used in SCHEDULE_KEYS.items() if config.schedule not in used}
    if warmup:
        out |= {k for k, used in WARMUP_KEYS.items() if config.warmup not in used}
    return out


CHOICES: dict[str, tuple[str, ...]] = {
    "schedule": ("step", "cosine", "onecycle", "plateau", "constant"),
    "milestone_unit": ("iters", "epochs"),
    "warmup": ("none", "linear", "constant"),
    "normalize": ("channel", "pixel", "none"),
    "amp": ("auto", "bf16", "fp16", "off"),
    "device": ("auto", "cpu", "cuda"),
    "progress": ("auto", "bar", "lines", "off"),
    "test_views": ("center", "ten-crop", "multiscale"),
    "folder_pipeline": ("imagenet", "auto", "small", "large"),
    "norm_stats": ("auto", "data", "init", "imagenet"),
    "init_source": ("torchvision", "timm", "cifar-reference", "resnetlab", None),
}
WD_EXCLUDE = ("norm", "bias")


def _is_device(value: str) -> bool:
    return isinstance(value, str) and value.startswith("cuda:") and value[5:].isdigit()


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_TYPES = typing.get_type_hints(TrainConfig)


def list_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def recipe_path(name_or_path: str | Path) -> Path:
    """A shipped recipe's file by name ('paper-cifar'), or a YAML path as given."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise FileNotFoundError(f"recipe file {p} does not exist")
        return p
    shipped = RECIPES_DIR / f"{name_or_path}.yaml"
    if not shipped.is_file():
        close = difflib.get_close_matches(str(name_or_path), list_recipes(), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown recipe {name_or_path!r}{hint} (shipped: "
                         f"{', '.join(list_recipes())}; or give a .yaml path)")
    return shipped


def read_recipe(name_or_path: str | Path) -> dict[str, Any]:
    path = recipe_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a recipe is a mapping of keys to values")
    return data


def load_recipe(name_or_path: str | Path, overrides: dict[str, Any] | None = None,
                rescale: bool = False) -> TrainConfig:
    """The TrainConfig of a recipe (shipped name or YAML path) with `overrides` applied.

    Override values may be typed values or strings as typed on a command line ("0.1",
    "true", "[32000, 48000]"). Setting `epochs` clears the recipe's `iters` and vice versa.
    An override that the resulting schedule ignores (milestones under onecycle) is refused.
    rescale=True (what `resnetlab train` and `demo` use): when the overrides change the run's
    length (iters, epochs or subset), the recipe's milestones and warmup_iters (and, with a
    subset, its val_size) move to the same fractions of the new run, unless the overrides
    state them too (see schedule_reference). Without it every value is used as stated.
    """
    values = read_recipe(name_or_path)
    values["recipe"] = values.get("recipe") or Path(str(name_or_path)).stem
    where = f"recipe {values['recipe']!r}"
    values = {k: coerce(k, v, where) for k, v in values.items()}
    overrides = dict(overrides or {})
    recipe_values = dict(values)
    if "epochs" in overrides and "iters" not in overrides:
        values["iters"] = None
    if "iters" in overrides and "epochs" not in overrides:
        values["epochs"] = None
    for key, value in overrides.items():
        values[key] = coerce(key, value, "override")
    if rescale and "schedule_reference" not in overrides:
        values["schedule_reference"] = _reference(recipe_values, overrides)
    config = TrainConfig(**values)
    # Only the schedule's keys: a warm-up length set under warmup=none stays allowed (scripts
    # set warmup_iters for any recipe), report.md leaves it out as not applying.
    ignored = {k for k in ignored_keys(config, warmup=False) & set(overrides)
               if getattr(config, k) != _default(k)}  # an override to the default is harmless
    if ignored:
        key = sorted(ignored)[0]
        uses = {**SCHEDULE_KEYS, **WARMUP_KEYS}[key]
        what = "schedule" if key in SCHEDULE_KEYS else "warmup"
        raise ValueError(f"{key} is ignored under {what}={getattr(config, what)!r} (used only "
                         f"by {what}={' | '.join(uses)}): drop it, or set {what} too")
    return config.validate()


def _default(key: str) -> Any:
    f = FIELDS[key]
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


RESCALED = ("milestones", "warmup_iters", "val_size")


def _reference(recipe: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """schedule_reference for a recipe whose length the overrides change ({} when they do
    not): the recipe's own length and the keys the overrides leave to rescale."""
    length = ("iters", "epochs", "subset")
    if not any(k in overrides and overrides[k] != recipe.get(k) for k in length):
        return {}
    scale = [k for k in RESCALED if k not in overrides and recipe.get(k)]
    if "val_size" in scale and "subset" not in overrides:
        scale.remove("val_size")
    if not scale:
        return {}
    ref: dict[str, Any] = ({"iters": recipe["iters"]} if recipe.get("iters") is not None
                           else {"epochs": recipe.get("epochs")})
    return {**ref, "train_images": recipe.get("subset"), "scale": scale}


def config_from_dict(values: dict[str, Any], where: str = "config") -> TrainConfig:
    """A TrainConfig from a saved dict (config.yaml, model.json 'recipe'), checked."""
    return TrainConfig(**{k: coerce(k, v, where) for k, v in values.items()}).validate()


def coerce(key: str, value: Any, where: str = "override") -> Any:
    """value checked (and parsed, if a command-line string) against key's declared type."""
    if key not in FIELDS:
        close = difflib.get_close_matches(key, list(FIELDS), n=4, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"{where}: unknown key {key!r}{hint} (all keys: `resnetlab train "
                         "--list-keys`)")
    want = _TYPES[key]
    if isinstance(value, str) and want is not str:
        value = _parse(value, want)
    elif isinstance(value, list):  # a recipe's [3.2e4, 4.8e4]: YAML 1.1 read strings
        value = _numbers(value, want)
    ok, converted = _check(value, want)
    if not ok:
        raise ValueError(f"{where}: {key} takes {_describe(want)}, got {value!r} "
                         f"(e.g. {key}={_example(key)})")
    return converted


def _parse(text: str, want) -> Any:
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if _origin(want) is str:  # a path or name that YAML would read as a number or mapping
        return parsed if parsed is None else text
    if _origin(want) is list and isinstance(parsed, str) and "," in parsed:
        parsed = [yaml.safe_load(part) for part in parsed.split(",") if part.strip()]
    if _origin(want) is list and parsed is not None and not isinstance(parsed, list):
        parsed = [parsed]
    return _numbers(parsed, want)


def _numbers(value: Any, want) -> Any:
    """value with its number-like strings as numbers, where want (or its items) is numeric."""
    base = _origin(want)
    if base is list:
        args = [a for a in typing.get_args(_strip_none(want))]
        if isinstance(value, list) and args and args[0] in (int, float):
            return [_number(v) for v in value]
        return value
    return _number(value) if base in (int, float) else value


def _strip_none(t):
    if isinstance(t, types.UnionType) or typing.get_origin(t) is typing.Union:
        return next(a for a in typing.get_args(t) if a is not type(None))
    return t


def _number(value: Any) -> Any:
    """A string in a usual number notation as its number: YAML 1.1 (PyYAML) reads 5e-4,
    1e9 and 1E-5 as strings, since its floats need a dot and a signed exponent."""
    if isinstance(value, str) and any(c.isdigit() for c in value):
        try:
            number = float(value.strip())
        except ValueError:
            return value
        if math.isfinite(number):
            return number
    return value


def _origin(t):
    if isinstance(t, types.UnionType) or typing.get_origin(t) is typing.Union:
        args = [a for a in typing.get_args(t) if a is not type(None)]
        return _origin(args[0])
    return typing.get_origin(t) or t


def _check(value: Any, want) -> tuple[bool, Any]:
    if isinstance(want, types.UnionType) or typing.get_origin(want) is typing.Union:
        if value is None and type(None) in typing.get_args(want):
            return True, None
        args = [a for a in typing.get_args(want) if a is not type(None)]
        return _check(value, args[0])
    origin = typing.get_origin(want)
    if origin is list:
        if not isinstance(value, list | tuple):
            return False, value
        (item,) = typing.get_args(want)
        checked = [_check(v, item) for v in value]
        return all(ok for ok, _ in checked), [v for _, v in checked]
    if want is dict or origin is dict:
        return isinstance(value, dict), value
    if want is bool:
        return isinstance(value, bool), value
    if want is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return isinstance(value, int) and not isinstance(value, bool), value
    if want is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if want is str:
        return isinstance(value, str), value
    return False, value


def _describe(want) -> str:
    if isinstance(want, types.UnionType) or typing.get_origin(want) is typing.Union:
        args = [a for a in typing.get_args(want) if a is not type(None)]
        return f"{_describe(args[0])} or null"
    if typing.get_origin(want) is list:
        plural = {int: "integers", float: "numbers", str: "strings"}
        return f"a list of {plural.get(typing.get_args(want)[0], 'values')}"
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
             dict: "a mapping"}
    return names.get(want, str(want))


def _example(key: str) -> str:
    default = FIELDS[key].default
    if key in CHOICES:
        return CHOICES[key][0]
    if default is dataclasses.MISSING or default is None:
        want = _origin(_TYPES[key])
        examples = {int: "10", float: "0.5", bool: "true", list: "[1,2]", dict: "{a: 1}"}
        return examples.get(want, "...")
    return yaml.safe_dump(default, default_flow_style=True).strip().removesuffix("...").strip()


# What each key means and, beyond its type, what it accepts: `resnetlab train --list-keys`.
KEY_DOCS: dict[str, str] = {
    "recipe": "the recipe's name (set by the recipe file)",
    "model": "network name from `resnetlab models` (e.g. resnet20, resnet110, plain56)",
    "model_overrides": "keyword arguments for create_model, e.g. {shortcut: B}",
    "data": "cifar10 | cifar100 | mnist | fashion-mnist, or an image-folder path",
    "data_root": "folder holding the data set (null: search the usual places, download)",
    "subset": "train on a class-stratified subset of N images (null: all)",
    "val_size": "training images held out for validation (0: none; scaled with --subset)",
    "iters": "run length in optimizer steps (setting it clears epochs)",
    "epochs": "run length in passes over the training images (setting it clears iters)",
    "batch_size": "global batch (all processes together), > 0",
    "lr": "peak learning rate per batch, > 0",
    "momentum": "SGD momentum, >= 0",
    "nesterov": "Nesterov momentum (needs momentum > 0)",
    "weight_decay": "L2 penalty, >= 0",
    "wd_exclude": "parameters without weight decay: list of norm, bias",
    "schedule": "lr schedule",
    "milestones": "schedule=step: where lr is multiplied by gamma (in milestone_unit)",
    "milestone_unit": "schedule=step: unit of milestones",
    "gamma": "schedule=step|plateau: lr factor at each decay, in (0, 1]",
    "final_lr": "schedule=cosine|onecycle: lr at the end; plateau: its floor; >= 0",
    "plateau_patience": "schedule=plateau: evaluations without gain before a decay",
    "plateau_threshold": "schedule=plateau: validation-error gain (% points) that counts",
    "warmup": "warm-up before the schedule (linear ramp or constant lr)",
    "warmup_iters": "warm-up length in iterations (the cap, for warmup_until_error)",
    "warmup_lr": "lr at the start of warm-up (constant: throughout it)",
    "warmup_until_error": "warmup=constant: end it once training error (%) is below this",
    "warmup_min_depth": "warm up only networks at least this deep (the paper: 110)",
    "init": "start from these weights: a run folder, model file, torchvision / timm / "
            "Idelbayev checkpoint, or a published weight name (`resnetlab weights list`)",
    "init_source": "the checkpoint format of init when it cannot be detected",
    "freeze": "freeze the stem and the first N stages (their BatchNorm in eval mode)",
    "folder_pipeline": "an image folder's pipeline: auto (chosen from the images), small "
                       "(native size, pad-crop-flip), large or imagenet (scale aug. + crops)",
    "channels": "input channels of an image folder (0: from the files or the init weights)",
    "norm_stats": "normalisation statistics: auto (the init weights' when fine-tuning, else "
                  "the data's), data, init or imagenet",
    "schedule_reference": "set by --iters/--epochs/--subset: the full-length run the milestones, "
                          "warm-up and val_size were stated for ({}: used as stated)",
    "label_smoothing": "label smoothing, in [0, 1)",
    "ema": "decay of an exponential moving average of the weights, in [0, 1) (0: off)",
    "grad_clip": "clip the gradient norm to this (0: off)",
    "pad": "in-memory sets: zero padding (px) before the random crop (0: no shifts)",
    "flip": "random horizontal flips",
    "normalize": "in-memory sets: per-channel mean/std, per-pixel mean, or none",
    "image_size": "image folders: crop size (px)",
    "scale_min": "image folders: shorter side resized at random in [scale_min, scale_max]",
    "scale_max": "image folders: see scale_min",
    "lighting": "image folders: PCA colour lighting std (0: off)",
    "eval_resize": "image folders: shorter side before the centre crop for evaluation",
    "test_views": "image folders: views of the final test",
    "test_scales": "image folders, test_views=multiscale: shorter sides to average",
    "amp": "mixed precision (auto: bf16 where fast, else off)",
    "channels_last": "channels-last memory format",
    "compile": "torch.compile the model",
    "device": "auto | cpu | cuda | cuda:N",
    "threads": "CPU threads (0: the cores other processes leave idle)",
    "workers": "image folders: data-loading processes",
    "sync_bn": "multi-process: BatchNorm statistics over the global batch",
    "dist_timeout": "multi-process: seconds before a collective is declared stuck",
    "seed": "random seed (data order, augmentation, initialisation)",
    "deterministic": "torch deterministic algorithms (bitwise-repeatable on CPU)",
    "eval_every": "evaluate every N iterations (0: at each epoch end)",
    "eval_test": "also score the test set during training (plotted, never selected on)",
    "eval_batch_size": "batch size for evaluation, > 0",
    "checkpoint_every": "save a resumable checkpoint every N iterations (and each epoch end)",
    "log_every": "a metrics row every N iterations, > 0",
    "tensorboard": "also write TensorBoard logs to RUN/tb",
    "progress": "what the terminal shows (auto: a bar on a terminal, else lines)",
}


def key_help() -> list[tuple[str, str, str]]:
    """(key, type, default) for every config key."""
    return [(name, _describe(_TYPES[name]), default) for name, _, default, _ in describe_keys()]


def describe_keys() -> list[tuple[str, str, str, str]]:
    """(key, allowed values, default, meaning) for every config key, for `resnetlab train
    --list-keys`."""
    rows = []
    for name, f in FIELDS.items():
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        allowed = (" | ".join("null" if c is None else str(c) for c in CHOICES[name])
                   if name in CHOICES else _describe(_TYPES[name]))
        rows.append((name, allowed, repr(default), KEY_DOCS.get(name, "")))
    return rows


def config_diff(old: dict[str, Any], new: dict[str, Any],
                ignore=RESUME_RUNTIME_KEYS) -> list[str]:
    """'key: old -> new' for every key (outside `ignore`) whose value differs. A key missing
    from `old` (a run saved before the key existed) counts as its default, the value under
    which runs compute what they computed before it (reproduce.runner.ADDED_KEYS)."""
    keys = sorted((set(old) | set(new)) - set(ignore))
    old = {**{k: _default(k) for k in keys if k not in old and k in FIELDS}, **old}
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]


def _default(key: str) -> Any:
    f = FIELDS[key]
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()
