"""TrainConfig: every training choice as one flat, typed dataclass, each key declared once.

A key's declaration (type, default, bounds or choices, help with its units) is the only place
it is described: pydantic checks values against it, and `--set` parsing, recipe validation
(train/recipe_loading.py), `resnetlab train --list-keys` and the CLI flags' help read it
(train/config_fields.py). Errors are one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Literal

from pydantic import PositiveInt, ValidationError, field_validator, model_validator
from pydantic.dataclasses import dataclass

from resnetlab.data.pipeline.policies import POLICIES
from resnetlab.data.sets.sources import builtin_name
from resnetlab.train import config_fields
from resnetlab.train.config_fields import STRICT, key
from resnetlab.train.losses import LOSSES
from resnetlab.train.optimizer import OPTIMIZERS

# Keys that say how a run is executed, not what it computes: a resume may change them (fit
# refuses any other difference). This list may grow; the run cache's (reproduce.runner.
# CACHE_RUNTIME_KEYS) is frozen, as growing it would change finished runs' hashes.
RESUME_RUNTIME_KEYS = ("recipe", "device", "compile", "data_root", "log_every", "tensorboard",
                       "workers", "dist_timeout", "threads", "progress")
# The keys load_recipe(rescale=True) moves to a shortened run's fractions (schedule_reference).
RESCALED = ("milestones", "warmup_iters", "val_size")


def _one_line_errors(cls):
    """cls whose construction (and replace()) raises one line, not pydantic's report."""
    validate = cls.__init__

    @functools.wraps(validate)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            validate(self, *args, **kwargs)
        except ValidationError as e:
            raise ValueError(config_fields.explain(e, FIELDS)) from None

    cls.__init__ = __init__
    return cls


@_one_line_errors
@dataclass(config=STRICT)
class TrainConfig:
    """A training run. Units: lr per `batch_size` (global) examples; iterations are optimizer
    steps; errors are in %; `epochs` is used only when `iters` is unset."""

    recipe: str = key("", "the recipe's name (set by the recipe file)")
    # what to train, on what
    model: str = key("resnet20", "network name from `resnetlab models` (e.g. resnet20, "
                     "resnet110, plain56; auto with init: the weights' own architecture)")
    model_overrides: dict = key({}, "keyword arguments for create_model, e.g. {shortcut: B}")
    drop_path_rate: float = key(0.0, "stochastic depth: the last residual block drops its "
                                "branch with this probability, block l of L with l/L of it "
                                "(Huang et al. 2016); 0: off", ge=0, lt=1)
    dropout: float | None = key(None, "dropout probability before the classifier; the CIFAR "
                                "wide nets (wrn*) put it between each block's convs instead "
                                "(null: the model's own, 0.3 for wrn*, else 0)", ge=0, lt=1)
    data: str = key("fashion-mnist", "cifar10 | cifar100 | mnist | fashion-mnist, or any folder "
                    "of class folders: PATH/train/<class>/<image> (val/ and test/ optional; "
                    "without val/ a stratified val_size is held out; its pipeline: "
                    "folder_pipeline)")
    data_root: str | None = key(None, "folder holding the data set (null: search the usual "
                                "places, download)")
    subset: int | None = key(None, "train on a class-stratified subset of N images (null: all)",
                             ge=1)
    val_size: int = key(0, "training images held out for validation (0: none; scaled with "
                        "subset)", ge=0)
    # length
    iters: int | None = key(None, "run length in optimizer steps (setting it clears epochs)",
                            gt=0)
    epochs: float | None = key(None, "run length in passes over the training images (setting "
                               "it clears iters)", gt=0)
    batch_size: int = key(128, "global batch in images (all processes together)", gt=0)
    # optimizer: SGD
    lr: float = key(0.1, "peak learning rate, per batch_size examples", gt=0)
    momentum: float = key(0.9, "SGD momentum", ge=0)
    nesterov: bool = key(False, "Nesterov momentum (needs momentum > 0)")
    weight_decay: float = key(1e-4, "L2 penalty", ge=0)
    wd_exclude: list[Literal["norm", "bias"]] = key([], "parameters without weight decay")
    # optimizer: the others (train/optimizer.py)
    optimizer: Literal[OPTIMIZERS] = key(
        "sgd", "sgd (momentum, nesterov), adamw (torch's), lamb (You et al. 2019) or lars (You "
        "et al. 2017, needs momentum)")
    betas: list[float] = key([0.9, 0.999], "Adam moments' decays", only="optimizer=adamw|lamb",
                             min_length=2, max_length=2)
    eps: float | None = key(None, "Adam denominator term (null: AdamW 1e-8, LAMB 1e-6)",
                            only="optimizer=adamw|lamb", gt=0)
    trust_coefficient: float = key(0.001, "LARS trust coefficient (eta)", only="optimizer=lars",
                                   gt=0)
    trust_clip: bool = key(False, "cap the trust ratio (LAMB: at 1; LARS: the layer's lr at lr)",
                           only="optimizer=lamb|lars")
    accumulate: int = key(1, "gradient accumulation: each step sums the gradients of this many "
                          "equal slices of batch_size, which stays the batch the schedule and "
                          "lr see", ge=1)
    # learning-rate schedule
    schedule: Literal["step", "cosine", "onecycle", "plateau", "constant"] = key(
        "step", "lr schedule")
    milestones: list[int] = key([], "where lr is multiplied by gamma (in milestone_unit)",
                                only="schedule=step")
    milestone_unit: Literal["iters", "epochs"] = key("iters", "unit of milestones",
                                                     only="schedule=step")
    gamma: float = key(0.1, "lr factor at each decay", only="schedule=step|plateau", gt=0, le=1)
    final_lr: float = key(0.0, "lr at the end (plateau: its floor)",
                          only="schedule=cosine|onecycle|plateau", ge=0)
    plateau_patience: int = key(3, "evaluations without gain before a decay",
                                only="schedule=plateau", ge=0)
    plateau_threshold: float = key(0.1, "validation-error gain (% points) that counts",
                                   only="schedule=plateau", ge=0)
    warmup: Literal["none", "linear", "constant"] = key(
        "none", "warm-up before the schedule (linear ramp or constant lr)")
    warmup_iters: int = key(0, "warm-up length in iterations (the cap, for "
                            "warmup_until_error)", only="warmup=linear|constant", ge=0)
    warmup_lr: float = key(0.0, "lr at the start of warm-up (constant: throughout it)",
                           only="warmup=linear|constant", ge=0)
    warmup_until_error: float | None = key(None, "end warm-up once the training error (%) is "
                                           "below this", only="warmup=constant")
    warmup_min_depth: int = key(0, "warm up only networks at least this deep in layers (the "
                                "paper: 110)", only="warmup=linear|constant", ge=0)
    # The full-length run that milestones, warmup_iters (and val_size) were stated for, set by
    # load_recipe(rescale=True) when a run is shortened or lengthened: {"iters": N} or
    # {"epochs": E, "train_images": M or None}, and "scale": the keys to move to the same
    # fractions of this run. {} (the default): used as stated.
    schedule_reference: dict = key({}, "set by --iters/--epochs/--subset: the full-length run "
                                   "the milestones, warm-up and val_size were stated for ({}: "
                                   "used as stated)")
    # regularisation
    label_smoothing: float = key(0.0, "label smoothing", ge=0, lt=1)
    loss: Literal[LOSSES] = key("ce", "cross-entropy, or binary cross-entropy per class "
                                     "(ResNet strikes back)")
    bce_target_threshold: float | None = key(None, "bce: targets above this become 1, the rest "
                                             "0 (RSB: 0.2; null: off)", only="loss=bce",
                                             ge=0, lt=1)
    mixup_alpha: float = key(0.0, "mixup's Beta(alpha, alpha) (0: off)", ge=0)
    cutmix_alpha: float = key(0.0, "CutMix's Beta(alpha, alpha) (0: off)", ge=0)
    mix_prob: float = key(1.0, "probability that a batch is mixed at all", ge=0, le=1)
    mix_switch_prob: float = key(0.5, "with both alphas set: probability of CutMix over mixup",
                                 ge=0, le=1)
    ema: float = key(0.0, "decay of an exponential moving average of the weights (0: off)",
                     ge=0, lt=1)
    ema_warmup: bool = key(False, "ema decay min(ema, (1 + n) / (10 + n)) at update n")
    early_stop_patience: int = key(0, "stop after this many evaluations without a val_error "
                                   "gain of early_stop_delta (0: never)", ge=0)
    early_stop_delta: float = key(0.0, "val_error gain (% points) that resets the patience",
                                  ge=0)
    keep_top_k: int = key(0, "keep the k checkpoints of lowest val_error as "
                          "best-ITER.safetensors (0: off)", ge=0)
    grad_clip: float = key(0.0, "clip the gradient norm to this (0: off)", ge=0)
    # augmentation and input (in-memory sets: pad + crop + flip; image folders: scale
    # augmentation to image_size crops, PCA lighting, and the test views)
    pad: int = key(4, "in-memory sets: zero padding (px) before the random crop (0: no "
                   "shifts)", ge=0)
    flip: bool = key(True, "random horizontal flips")
    augment: Literal[POLICIES] = key(
        "none", "a policy on each training batch, after the crop: RandAugment, "
        "TrivialAugmentWide or AutoAugment's CIFAR-10 / ImageNet policy")
    randaugment_ops: int = key(2, "RandAugment's N: ops per image", only="augment=randaugment",
                               ge=1, le=10)
    randaugment_magnitude: float = key(9.0, "RandAugment's M on the paper's and timm's 0..10 "
                                       "scale (torchvision's bin m of 31 is m/3)",
                                       only="augment=randaugment", ge=0, le=10)
    randaugment_magnitude_std: float = key(0.0, "noise std on M per op (timm's mstd)",
                                           only="augment=randaugment", ge=0)
    random_erase: float = key(0.0, "probability of erasing a random box with the mean colour",
                              ge=0, le=1)
    color_jitter: float = key(0.0, "brightness, contrast and saturation factors drawn in "
                              "[1 - s, 1 + s] (0: off)", ge=0, le=1)
    alternate_flip: bool = key(False, "each image flipped every other epoch, not at random")
    train_sizes: list[PositiveInt] = key([], "in-memory sets: each epoch's image side (px)")
    size_mode: Literal["resize", "crop"] = key("resize", "train_sizes: downscale, or random crops")
    normalize: Literal["channel", "pixel", "none"] = key(
        "channel", "in-memory sets: per-channel mean/std, per-pixel mean, or none")
    image_size: int = key(224, "image folders: crop size (px)", gt=0)
    crop: Literal["scale", "rrc"] = key("scale", "image folders: the paper's scale "
                                        "augmentation or RandomResizedCrop (rrc_scale, rrc_ratio)")
    rrc_scale: list[float] = key([0.08, 1.0], "rrc: area fraction range of the crop",
                                 only="crop=rrc", min_length=2, max_length=2)
    rrc_ratio: list[float] = key([0.75, 4 / 3], "rrc: aspect ratio range (log-uniform)",
                                 only="crop=rrc", min_length=2, max_length=2)
    eval_size: int = key(0, "image folders: evaluation crop (px; 0: image_size)", ge=0)
    scale_min: int = key(256, "image folders: shorter side (px) resized at random in "
                         "[scale_min, scale_max]")
    scale_max: int = key(480, "image folders: see scale_min")
    lighting: float = key(0.1, "image folders: PCA colour lighting std (0: off)", ge=0)
    eval_resize: int = key(256, "image folders: shorter side (px) before the centre crop for "
                           "evaluation")
    test_views: Literal["center", "ten-crop", "multiscale"] = key(
        "center", "image folders: views of the final test")
    test_scales: list[int] = key([224, 256, 384, 480, 640], "image folders, test_views="
                                 "multiscale: shorter sides (px) to average", min_length=1)
    # own data (image folders): "imagenet" = the paper's pipeline with ImageNet statistics
    # (as before these keys existed); "auto" picks "small" or "large" from the images' sizes.
    folder_pipeline: Literal["imagenet", "auto", "small", "large"] = key(
        "imagenet", "an image folder's pipeline: auto (chosen from the images), small (native "
        "size, pad-crop-flip), large or imagenet (scale aug. + crops, ImageNet statistics)")
    channels: Literal[0, 1, 3] = key(0, "input channels of an image folder (0: from the files "
                                     "or the init weights)")
    norm_stats: Literal["auto", "data", "init", "imagenet"] = key(
        "auto", "normalisation statistics: auto (the init weights' when fine-tuning, else the "
        "data's), data, init or imagenet")
    # fine-tuning
    init: str | None = key(None, "start from weights: a published name (`resnetlab weights "
                           "list`), a run folder or model file, or a torchvision / timm / "
                           "Idelbayev checkpoint; the classifier is replaced when the class "
                           "count differs")
    init_source: Literal["torchvision", "timm", "cifar-reference", "resnetlab"] | None = key(
        None, "the checkpoint format of init when it cannot be detected")
    freeze: int = key(0, "with init: keep the stem and the first N stages fixed (BatchNorm "
                      "in eval mode)", ge=0)
    # speed
    amp: Literal["auto", "bf16", "fp16", "off"] = key(
        "auto", "mixed precision (auto: bf16 where fast, else off)")
    channels_last: bool = key(True, "channels-last memory format")
    compile: bool = key(False, "torch.compile the model")
    device: str = key("auto", "where to train: auto (cuda when there is one), cpu, cuda or "
                      "cuda:N", values="auto | cpu | cuda | cuda:N",
                      pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    threads: int = key(0, "CPU threads (0: the cores other processes leave idle)", ge=0)
    workers: int = key(4, "image folders: data-loading processes", ge=0)
    # multi-process (torchrun)
    sync_bn: bool = key(False, "multi-process: BatchNorm statistics over the global batch "
                        "(default: per process, as in the paper)")
    dist_timeout: float = key(600.0, "multi-process: seconds before a collective is declared "
                              "stuck", gt=0)
    # reproducibility
    seed: int = key(0, "random seed (data order, augmentation, initialisation)", ge=0)
    deterministic: bool = key(False, "torch deterministic algorithms on a fixed thread count "
                              "(1 unless threads is set): bitwise-repeatable on CPU")
    # bookkeeping
    eval_every: int = key(0, "evaluate every N iterations (0: at each epoch end)", ge=0)
    eval_test: bool = key(True, "also score the test set during training (plotted, never "
                          "selected on)")
    eval_batch_size: int = key(512, "batch size for evaluation", gt=0)
    checkpoint_every: int = key(1000, "save a resumable checkpoint every N iterations (and "
                                "each epoch end)", ge=0)
    log_every: int = key(20, "a metrics row every N iterations", gt=0)
    tensorboard: bool | None = key(None, "also write TensorBoard logs to RUN/tb (null: when it "
                                   "is installed; true: required)")
    progress: Literal["auto", "bar", "lines", "off"] = key(
        "auto", "what the terminal shows (auto: a bar on a terminal, else lines)")

    @field_validator("data")
    @classmethod
    def _data_set_name(cls, value: str) -> str:
        """A built-in set under its one name, whatever alias was typed ('fmnist' is
        'fashion-mnist'): the run folder, the report and the run cache's key say the same."""
        return builtin_name(value) or value

    @model_validator(mode="after")
    def _check_together(self) -> TrainConfig:
        """The rules between keys (each key's own range is in its declaration)."""
        if (self.iters is None) == (self.epochs is None):
            raise ValueError("set exactly one of iters (optimizer steps) and epochs; got "
                             f"iters={self.iters}, epochs={self.epochs}")
        if max(self.image_size, self.eval_size) > self.eval_resize or (
                self.scale_min > self.scale_max):
            raise ValueError(f"image sizes must satisfy image_size ({self.image_size}) and "
                             f"eval_size ({self.eval_size}) <= eval_resize "
                             f"({self.eval_resize}) and scale_min "
                             f"({self.scale_min}) <= scale_max ({self.scale_max})")
        if self.crop == "scale" and self.image_size > self.scale_min:
            raise ValueError(f"image_size {self.image_size} exceeds scale_min {self.scale_min}: "
                             "a crop cannot be larger than the image")
        ref = self.schedule_reference
        if ref and (set(ref) - {"iters", "epochs", "train_images", "scale"}
                    or not set(ref.get("scale", [])) <= set(RESCALED)
                    or ("iters" in ref) == ("epochs" in ref)):
            raise ValueError(f"schedule_reference={ref!r}: give {{}} or {{iters: N}} / "
                             "{epochs: E}, with train_images (null = all) and scale (a list "
                             f"of {', '.join(RESCALED)})")
        if self.optimizer == "lars" and not 0 < self.momentum < 1:
            raise ValueError(f"optimizer lars needs momentum in (0, 1) (You et al. 2017 use "
                             f"0.9), got momentum={self.momentum}")
        if self.nesterov and (self.momentum == 0 or self.optimizer != "sgd"):
            raise ValueError(f"nesterov needs optimizer sgd with momentum > 0, got optimizer "
                             f"{self.optimizer}, momentum {self.momentum}")
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas={self.betas}: each decay must be in [0, 1)")
        mixing = (self.mixup_alpha > 0) + (self.cutmix_alpha > 0)
        for name, needs, which in (("mix_prob", 1, "mixup_alpha or cutmix_alpha"),
                                   ("mix_switch_prob", 2, "both mixup_alpha and cutmix_alpha")):
            if mixing < needs and getattr(self, name) != default(name):
                raise ValueError(f"{name}={getattr(self, name)} is ignored unless {which} > 0:"
                                 " set them, or drop it")
        if self.batch_size % self.accumulate:
            raise ValueError(f"accumulate={self.accumulate} does not divide batch_size="
                             f"{self.batch_size}: each step needs equal slices")
        for name in ("rrc_scale", "rrc_ratio"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi or (name == "rrc_scale" and hi > 1):
                raise ValueError(f"{name}={[lo, hi]}: need 0 < low <= high"
                                 + (" <= 1" if name == "rrc_scale" else ""))
        if self.schedule == "plateau" and not self.val_size:
            raise ValueError("schedule=plateau watches the validation error: set val_size > 0 "
                             "(the test set is never used to steer training)")
        if self.norm_stats == "init" and not self.init:
            raise ValueError("norm_stats=init needs init weights (--init SOURCE)")
        if self.warmup != "none" and not self.warmup_iters:
            raise ValueError(f"warmup={self.warmup!r} needs warmup_iters > 0")
        both = sorted(set(self.model_regularization()) & set(self.model_overrides))
        if both:
            raise ValueError(f"{', '.join(both)} set twice, as a key and in model_overrides: "
                             "keep the key")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> TrainConfig:  # after attributes were set in place
        return dataclasses.replace(self)

    def model_regularization(self) -> dict[str, float]:
        """drop_path_rate and dropout as create_model overrides, where the config sets them
        (so a checkpoint's overrides record them)."""
        out = {"drop_path_rate": self.drop_path_rate} if self.drop_path_rate else {}
        if self.dropout is not None:
            out["dropout"] = self.dropout
        return out

    def total_iters(self, batches_per_epoch: int) -> int:
        """Optimizer steps in the whole run: `iters`, else `epochs` worth of batches."""
        return self.iters or max(1, math.ceil(self.epochs * batches_per_epoch))

    def milestone_iters(self, batches_per_epoch: int) -> list[int]:
        scale = batches_per_epoch if self.milestone_unit == "epochs" else 1
        return [round(m * scale) for m in self.milestones]


FIELDS = TrainConfig.__pydantic_fields__


def coerce(name: str, value: Any, where: str = "override") -> Any:
    """value checked against key `name`'s declaration, parsed first if typed on a command line
    ("0.1", "true", "[32000, 48000]"); ValueError: one line that starts with `where`."""
    try:
        if name not in FIELDS:
            raise ValueError(config_fields.unknown(name, FIELDS))
        return config_fields.check(name, FIELDS[name], value)
    except ValueError as e:
        raise ValueError(f"{where}: {e}" if where else str(e)) from None


def config_from_dict(values: dict[str, Any], where: str = "config") -> TrainConfig:
    """A TrainConfig from a saved dict (config.yaml, model.json 'recipe'), checked."""
    return TrainConfig(**{k: coerce(k, v, where) for k, v in values.items()})


def default(name: str) -> Any:
    """A key's declared default (a fresh copy for lists and mappings)."""
    return config_fields.default(FIELDS[name])


def used_only_by(name: str) -> tuple[str, tuple[str, ...]] | None:
    """("schedule", choices) when only those schedule (or warmup) choices read the key."""
    only = config_fields.extra(FIELDS[name], "only")
    if only is None:
        return None
    what, _, choices = only.partition("=")
    return what, tuple(choices.split("|"))


def ignored_keys(config: TrainConfig, warmup: bool = True) -> set[str]:
    """The keys that config's schedule (and, with warmup, its warm-up) never read."""
    out = set()
    for name in FIELDS:
        only = used_only_by(name)
        if only and (warmup or only[0] == "schedule") and getattr(config, only[0]) not in only[1]:
            out.add(name)
    return out


def describe(name: str) -> str:
    """Key `name`'s help, prefixed by the schedule (or warm-up) choices that read it."""
    only = config_fields.extra(FIELDS[name], "only")
    return f"{only}: {FIELDS[name].description}" if only else FIELDS[name].description


def describe_keys() -> list[tuple[str, str, str, str]]:
    """(key, allowed values, default, meaning) for every key: `resnetlab train --list-keys`."""
    return [(name, config_fields.allowed(info), repr(default(name)), describe(name))
            for name, info in FIELDS.items()]


def config_diff(old: dict[str, Any], new: dict[str, Any],
                ignore=RESUME_RUNTIME_KEYS) -> list[str]:
    """'key: old -> new' for every key (outside `ignore`) whose value differs. A key missing
    from `old` (a run saved before the key existed) counts as its default, the value under
    which runs compute what they computed before it (reproduce.runner.ADDED_KEYS)."""
    keys = sorted((set(old) | set(new)) - set(ignore))
    old = {**{k: default(k) for k in keys if k not in old and k in FIELDS}, **old}
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
