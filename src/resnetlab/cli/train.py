"""`resnetlab train`: train a model of the zoo on a data set with a recipe, into runs/NAME."""

from __future__ import annotations

from pathlib import Path

from resnetlab import distributed
from resnetlab.train import fit, load_recipe
from resnetlab.train.config import describe_keys
from resnetlab.train.run_folder import duration, is_finished
from resnetlab.train.runtime import pick_device

# Shortcut options and the config key each one sets.
SHORTCUTS = {
    "model": "model", "data": "data", "data_root": "data_root", "epochs": "epochs",
    "iters": "iters", "batch_size": "batch_size", "lr": "lr", "device": "device",
    "seed": "seed", "amp": "amp", "subset": "subset", "val_size": "val_size",
    "progress": "progress",
}


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
    for opt, key in SHORTCUTS.items():
        value = getattr(args, opt, None)
        if value is not None:
            overrides[key] = value
    if args.compile is not None:
        overrides["compile"] = args.compile
    if args.deterministic:
        overrides["deterministic"] = True
    if args.sync_bn:
        overrides["sync_bn"] = True
    return overrides


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
    config = load_recipe(args.recipe, build_overrides(args), rescale=True)
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
    if final.get("test_error") is not None:
        lines.append(f"test error {final['test_error']:.2f}% (accuracy "
                     f"{100 - final['test_error']:.2f}%), top-5 error "
                     f"{final['test_top5_error']:.2f}%")
    if best:
        lines.append(f"best validation error {best['val_error']:.2f}% at iteration "
                     f"{best['iter']} -> {out / 'best.safetensors'}")
    lines += [f"model:   {out / 'model.safetensors'}", f"report:  {out / 'report.md'}",
              f"curves:  {out / 'curves.png'}", f"metrics: {out / 'metrics.csv'}"]
    return "\n".join(lines)


def register(sub) -> None:
    p = sub.add_parser("train", help="train a network with a recipe (default: the demo)",
                       description="Train a network. Every recipe key can be set with --set "
                       "key=value; the options below are shortcuts for the common ones.")
    p.add_argument("--recipe", default="demo",
                   help="demo | paper-cifar | paper-imagenet | a .yaml path (default: demo)")
    p.add_argument("--model", help="registry name, e.g. resnet20, resnet110, plain56")
    p.add_argument("--data", help="fashion-mnist | mnist | cifar10 | cifar100")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a recipe key (repeatable); --list-keys lists them")
    p.add_argument("--out", help="run folder (default: runs/RECIPE-MODEL-DATA)")
    p.add_argument("--epochs", type=float, help="train this many epochs (clears iters)")
    p.add_argument("--iters", type=int, help="train this many optimizer steps (clears epochs)")
    p.add_argument("--batch-size", type=int, help="global batch size")
    p.add_argument("--lr", type=float, help="peak learning rate, per batch")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--seed", type=int, help="random seed (data order, augmentation, init)")
    p.add_argument("--amp", choices=("auto", "bf16", "fp16", "off"), help="mixed precision")
    p.add_argument("--compile", action="store_true", default=None, help="use torch.compile")
    p.add_argument("--no-compile", dest="compile", action="store_false",
                   help="do not use torch.compile (when the recipe does)")
    p.add_argument("--deterministic", action="store_true",
                   help="torch deterministic algorithms (bitwise-repeatable on CPU)")
    p.add_argument("--subset", type=int, help="train on a class-stratified N-image subset")
    p.add_argument("--val-size", type=int, help="hold out N training images for validation")
    p.add_argument("--data-root", help="folder holding the data set (default: search/download)")
    p.add_argument("--progress", choices=("auto", "bar", "lines", "off"),
                   help="a bar (terminal), plain lines (logs) or nothing (default: auto)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out (the default when its recipe is unchanged); "
                   "with --force, even under a changed recipe")
    p.add_argument("--force", action="store_true",
                   help="start over in an --out that holds another run (with --resume: "
                   "continue it under the changed recipe)")
    p.add_argument("--nproc", type=int, default=0, metavar="N",
                   help="train on N processes of this machine (launches torchrun; one per GPU)")
    p.add_argument("--max-restarts", type=int, default=0, metavar="K",
                   help="with --nproc: restart the group up to K times when a process dies; "
                   "the run resumes from its last checkpoint")
    p.add_argument("--sync-bn", action="store_true",
                   help="BatchNorm over the global batch under DDP (default: per process, as "
                   "in the paper)")
    p.add_argument("--list-keys", action="store_true", help="list every recipe key and exit")
    p.set_defaults(func=run)
