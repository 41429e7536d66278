"""`resnetlab train`: train a model of the zoo on a data set with a recipe, into runs/NAME."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from resnetlab import distributed
from resnetlab.train import fit, load_recipe
from resnetlab.train.config import FIELDS, coerce, describe, describe_keys
from resnetlab.train.config_fields import choices
from resnetlab.train.data import is_builtin
from resnetlab.train.devices import pick_device
from resnetlab.train.recipe_loading import read_recipe
from resnetlab.train.run_folder import is_finished
from resnetlab.train.run_report import duration

# Shortcut options for the common config keys: --KEY VALUE sets key KEY (its metavar here);
# type, choices and help come from the key's declaration (train.config). SWITCHES are the
# true/false keys, as --KEY / --no-KEY.
SHORTCUTS = {
    "model": None, "data": None, "init": "SOURCE", "init_source": None, "freeze": "N",
    "image_size": "PX", "epochs": None, "iters": None, "batch_size": None, "lr": None,
    "device": None, "seed": None, "amp": None, "subset": "N", "val_size": "N",
    "data_root": "DIR", "progress": None,
}
SWITCHES = ("compile", "deterministic", "sync_bn")


def parse_sets(items: list[str]) -> dict[str, str]:
    """['key=value', ...] -> {key: value} (values stay strings; the config parses them)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: write key=value, e.g. --set lr=0.05")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def build_overrides(args) -> dict:
    overrides = parse_sets(args.set or [])
    for key in (*SHORTCUTS, *SWITCHES):
        if getattr(args, key, None) is not None:
            overrides[key] = getattr(args, key)
    return overrides


def key_type(key: str):
    """argparse type of --KEY: the text checked against the key's declaration."""
    def parse(text: str):
        try:
            return coerce(key, text, where="")
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def add_shortcuts(p: argparse.ArgumentParser) -> None:
    """--KEY for each of SHORTCUTS and SWITCHES, described by the key's declaration."""
    for key, metavar in SHORTCUTS.items():
        p.add_argument("--" + key.replace("_", "-"), type=key_type(key), metavar=metavar,
                       choices=choices(FIELDS[key]), help=describe(key).replace("%", "%%"))
    for key in SWITCHES:
        p.add_argument("--" + key.replace("_", "-"), action=argparse.BooleanOptionalAction,
                       help=describe(key).replace("%", "%%"))


def positive_int(text: str) -> int:
    """argparse type of --nproc: a whole number >= 1 (0 or less used to train one process)."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"takes a number of processes >= 1, got {text!r} "
                                         "(leave it out to train in this one process)")
    return n


def folder_default(config, recipe: str, overrides: dict):
    """An image folder trained from the command line gets the pipeline chosen from its images
    (folder_pipeline=auto) unless the recipe or --set names one. (The config's own default
    stays the paper's "imagenet" pipeline: recipes keep computing what they computed.)"""
    if (is_builtin(config.data) or "folder_pipeline" in overrides
            or "folder_pipeline" in read_recipe(recipe)):
        return config
    return replace(config, folder_pipeline="auto")


def without_launch_options(argv: list[str]) -> list[str]:
    """The command line minus --nproc/--max-restarts: what each torchrun worker runs."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--nproc", "--max-restarts"):
            skip = True
        elif not a.startswith(("--nproc=", "--max-restarts=")):
            out.append(a)
    return out


def run(args) -> int:
    if args.list_keys:
        for key, allowed, default, meaning in describe_keys():
            print(f"{key}: {meaning}\n    values: {allowed}; default: {default}")
        return 0
    recipe = args.recipe or ("finetune" if args.init else "demo")
    config = folder_default(load_recipe(recipe, build_overrides(args), rescale=True), recipe,
                            build_overrides(args))
    out = Path(args.out or f"runs/{config.recipe}-{config.model}-{config.data}")
    info = distributed.env_info()
    if args.nproc and args.nproc > 1 and not info.enabled:
        # Resolve --out now so every restart of every worker resumes the same folder.
        argv = without_launch_options(args.argv)
        if not args.out:
            argv += ["--out", str(out)]
        return distributed.launch(args.nproc, argv, max_restarts=args.max_restarts)
    distributed.init_distributed(pick_device(config.device), timeout_s=config.dist_timeout)
    try:
        if info.is_main and not (is_finished(out, config) and not args.force):
            print(f"training {config.model} on {config.data} (recipe {config.recipe}) into "
                  f"{out}" + (f" on {info.world_size} processes" if info.enabled else ""),
                  flush=True)
        result = fit(config, out, resume=True if not args.force else args.resume,
                     force=args.force)
        if info.is_main:
            print(format_result(result))
    finally:
        distributed.cleanup()
    return 0


def format_result(result) -> str:
    s, out = result.summary, result.out_dir
    final, best = s.get("final", {}), s.get("best")
    if getattr(result, "already_complete", False):
        lines = [f"already complete: {out} holds this run, finished earlier ({s['iters']} "
                 f"iterations, {s['epochs']:.2f} epochs, in {duration(s['time_seconds'])}); "
                 "nothing was trained. Its report: " + str(out / "report.md"),
                 "(--force trains it again from the start; --out PATH trains a new copy)"]
    else:
        lines = [f"done: {s['iters']} iterations ({s['epochs']:.2f} epochs) in "
                 f"{duration(s['time_seconds'])}, {s['train_images_per_second']:.0f} img/s"]
    for split, label in (("test", "test"), ("val", "validation")):
        if final.get(f"{split}_error") is None or (split == "val" and "test_error" in final):
            continue
        text = (f"{label} error {final[f'{split}_error']:.2f}% (accuracy "
                f"{100 - final[f'{split}_error']:.2f}%)")
        if final.get(f"{split}_top5_error") is not None:
            text += f", top-5 error {final[f'{split}_top5_error']:.2f}%"
        lines.append(text)
    if best:
        lines.append(f"best validation error {best['val_error']:.2f}% at iteration "
                     f"{best['iter']} -> {out / 'best.safetensors'}")
    exploded = s.get("loss_exploded")
    if exploded:
        lines.append(f"warning: the training loss exploded ({exploded['train_loss']:.3g} at "
                     f"iteration {exploded['iter']}, over {exploded['factor']:g}x its first "
                     f"value {exploded['early_loss']:.3g}): lower lr, or add warm-up or grad_clip")
    if s.get("skipped_images"):
        lines.append(f"warning: {len(s['skipped_images'])} unreadable image(s) were skipped "
                     "(listed in summary.json and report.md)")
    lines += [f"model:   {out / 'model.safetensors'}", f"report:  {out / 'report.md'}"]
    if (out / "curves.png").is_file():  # not drawn without matplotlib
        lines.append(f"curves:  {out / 'curves.png'}")
    lines.append(f"metrics: {out / 'metrics.csv'}")
    return "\n".join(lines)


def register(sub) -> None:
    p = sub.add_parser("train", help="train a network with a recipe (default: the demo)",
                       description="Train a network. Every recipe key can be set with --set "
                       "key=value; the options below are shortcuts for the common ones.")
    p.add_argument("--recipe", default=None,
                   help="demo | finetune | paper-cifar | paper-imagenet | a .yaml path "
                   "(default: demo, or finetune with --init)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="set any recipe key (repeatable); --list-keys lists them, and the "
                   "options below set the common ones")
    p.add_argument("--out", help="run folder (default: runs/RECIPE-MODEL-DATA)")
    add_shortcuts(p)
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out (the default when its recipe is unchanged); "
                   "with --force, even under a changed recipe")
    p.add_argument("--force", action="store_true",
                   help="start over in an --out that holds another run (with --resume: "
                   "continue it under the changed recipe)")
    p.add_argument("--nproc", type=positive_int, default=None, metavar="N",
                   help="train on N processes of this machine (launches torchrun; one per GPU)")
    p.add_argument("--max-restarts", type=int, default=0, metavar="K",
                   help="with --nproc: restart the group up to K times when a process dies; "
                   "the run resumes from its last checkpoint")
    p.add_argument("--list-keys", action="store_true", help="list every recipe key and exit")
    p.set_defaults(func=run)
