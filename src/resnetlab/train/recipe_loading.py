"""Recipes: the shipped YAML files (train/recipes/) and users' own, loaded into a TrainConfig
with command-line overrides, and a run shortened or lengthened given its schedule's reference."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from resnetlab.train.config import RESCALED, TrainConfig, coerce, default, used_only_by

RECIPES_DIR = Path(__file__).parent / "recipes"


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
    # Not the warm-up's keys: a warm-up length set under warmup=none stays allowed (scripts
    # set warmup_iters for any recipe), report.md leaves it out as not applying.
    for key in sorted(overrides):
        only = used_only_by(key)
        if (only and only[0] != "warmup" and getattr(config, only[0]) not in only[1]
                and getattr(config, key) != default(key)):  # set to its default: harmless
            what, now = only[0], getattr(config, only[0])
            raise ValueError(f"{key} is ignored under {what}={now!r} (used only by "
                             f"{what}={' | '.join(only[1])}): drop it, or set {what} too")
    return config


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
