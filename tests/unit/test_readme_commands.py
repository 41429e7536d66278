"""Every command in the README's code blocks runs as written, at a smoke budget.

Commands are the code-block lines that start with `resnetlab`, `make`, `torchrun` or
`export` (Python lines are left to the unit tests). Each runs in README order in one scratch
folder, so that `resnetlab evaluate runs/r110` finds what `resnetlab train ... --out runs/r110`
wrote, against small stand-in files this test makes: CIFAR-10 and Fashion-MNIST files in
$RESNETLAB_DATA, an image folder at path/to/imagenet, a trained runs/demo, r20.safetensors,
and the images that `predict` is shown on. The smoke budget shortens what a command computes
(SMOKE below: a few iterations, tiny batches, the smoke reproduce budget) without changing
what it says; optional parts written `[--json]` or `[PATTERN]` are left out.

A command that cannot run in a test (it downloads, needs several machines, or runs the whole
test suite) says so in the README with a trailing comment holding `[not tested: REASON]`.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from datafiles import tiny_cifar, tiny_mnist
from PIL import Image

from resnetlab import create_model
from resnetlab.checkpoint import save_model

README = Path(__file__).resolve().parents[2] / "README.md"
PROGRAMS = ("resnetlab", "make", "torchrun", "export")
NOT_TESTED = "[not tested"
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]

# Options each verb gets (or has replaced) so that it finishes in seconds. A README value of
# an option listed here is replaced; every other option stays as written.
TRAIN_SMOKE = {"--iters": "2", "--batch-size": "8", "--device": "cpu", "--progress": "off"}
TRAIN_SETS = ["threads=1", "eval_batch_size=256", "log_every=1", "checkpoint_every=0"]
FOLDER_SETS = ["image_size=16", "scale_min=18", "scale_max=24", "eval_resize=18",
               "test_views=center", "workers=0", "val_size=10"]
SMOKE = {
    ("train",): TRAIN_SMOKE,
    ("bench", "train"): {"--batch-size": "8", "--steps": "1", "--rounds": "1",
                         "--image-size": "32", "--threads": "1"},
    ("bench", "data"): {"--batch-size": "16", "--batches": "2", "--steps": "1",
                        "--workers": "1", "--threads": "1"},
    ("bench", "infer"): {"--batch-size": "2", "--seconds": "0.05", "--rounds": "1",
                         "--image-size": "32"},
    ("reproduce",): {"--budget": "smoke", "--seeds": "1", "--threads": "1"},
    # the smoke budget's nets are plain8 ... resnet14; `analyze responses` below reads resnet56
    ("reproduce", "responses"): {"--budget": "smoke", "--threads": "1",
                                 "--models": "plain56,resnet56"},
    ("analyze", "gradients"): {"--steps": "1", "--batch-size": "8", "--threads": "1"},
    ("analyze", "responses"): {"--limit": "16", "--threads": "1"},
    ("evaluate",): {"--batch-size": "64"},
}
DROPPED = {("train",): ("--epochs",)}  # replaced by the smoke budget's --iters
PATTERNS = {("models",): ["resnet2*"]}  # `resnetlab models` measures every net: a few here


def _join_continuations(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for no, line in lines:
        if pending is not None:
            no, line = pending[0], pending[1] + " " + line.strip()
            pending = None
        if line.rstrip().endswith("\\"):
            pending = (no, line.rstrip()[:-1])
            continue
        out.append((no, line))
    return out


def readme_commands(text: str) -> list[tuple[int, str]]:
    """(line number, command line) of every command in the README's code blocks."""
    lines, inside = [], False
    for no, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            inside = not inside
            continue
        if inside:
            lines.append((no, line))
    return [(no, line.strip()) for no, line in _join_continuations(lines)
            if line.strip().split(" ", 1)[0] in PROGRAMS]


def as_run(command: str) -> list[str]:
    """The argv a command runs at the smoke budget: optional parts and a trailing `...`
    removed, comments dropped, the verb's SMOKE options set."""
    words = shlex.split(re.sub(r"\s\[(?:-|[A-Z])[^\]]*\]", "", command), comments=True)
    words = [w for w in words if w != "..."]
    if words[:1] == ["torchrun"]:
        return words
    argv = words[1:]
    verb = tuple(argv[:2]) if tuple(argv[:2]) in SMOKE else tuple(argv[:1])
    smoke = dict(SMOKE.get(verb, {}))
    drop = set(smoke) | set(DROPPED.get(verb, ()))
    out, skip = [], False
    for w in argv:
        if skip:
            skip = False
            continue
        name = w.split("=", 1)[0]
        if name in drop:
            skip = "=" not in w
            continue
        out.append(w)
    for k, v in smoke.items():
        out += [k, v]
    if not [w for w in out[len(verb):] if not w.startswith("-")]:  # no pattern of its own
        out += PATTERNS.get(verb, [])
    if verb == ("train",):
        for s in TRAIN_SETS + (FOLDER_SETS if "paper-imagenet" in out else []):
            out += ["--set", s]
        if "paper-cifar" in out and "--subset" not in out:  # its val_size is scaled with it
            out += ["--subset", "600"]
    return out


def expand_globs(argv: list[str], command: str) -> list[str]:
    """What the shell does with an unquoted wildcard (quoted ones reach the program)."""
    import glob

    out = []
    for w in argv:
        quoted = f"'{w}'" in command or f'"{w}"' in command
        matches = sorted(glob.glob(w, recursive=True)) if "*" in w and not quoted else []
        out += matches or [w]
    return out


COMMANDS = readme_commands(README.read_text())


def _id(item: tuple[int, str]) -> str:
    no, command = item
    return f"README:{no}: {command[:60]}"


def test_the_readme_has_commands_and_the_parser_finds_them():
    commands = [c for _, c in COMMANDS]
    assert any(c.startswith("resnetlab train --recipe paper-cifar --model resnet20 --epochs 2")
               for c in commands)
    argv = as_run("resnetlab data info fashion-mnist [--json]       # the zoo")
    assert argv == ["data", "info", "fashion-mnist"]
    argv = as_run("resnetlab train --set milestones=[20000,30000] --epochs 2 ...")
    assert "milestones=[20000,30000]" in argv and "--epochs" not in argv and "..." not in argv


# -- the stand-in files -------------------------------------------------------------------

def _images(folder: Path, n: int, size: int = 20, seed: int = 0, ext: str = "png") -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
            folder / f"img{i}.{ext}")


def _model_file(path: Path, model: str, classes: list[str], in_chans: int, size: int) -> None:
    torch.manual_seed(0)
    net = create_model(model, num_classes=len(classes), in_chans=in_chans)
    save_model(path, net, {"model": model, "overrides": {"num_classes": len(classes),
                                                         "in_chans": in_chans},
                           "classes": classes, "input_size": [in_chans, size, size],
                           "normalization": {"mean": [0.5] * in_chans,
                                             "std": [0.25] * in_chans},
                           "dataset": "stand-in"})


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A scratch folder holding the stand-ins, with $RESNETLAB_DATA pointing into it."""
    root = tmp_path_factory.mktemp("readme")
    data = root / "data"
    tiny_mnist(data / "fashion-mnist", n_train=400, n_test=100)
    tiny_mnist(data / "mnist", n_train=400, n_test=100)
    tiny_cifar(data / "cifar10", "py", n=1100)  # 5500 training images: `--subset 5000` fits
    tiny_cifar(root / "small", "py", n=60)  # and a test split of 60, so that scoring is quick
    (root / "small/cifar-10-batches-py/test_batch").replace(
        data / "cifar10/cifar-10-batches-py/test_batch")
    for split, n in (("train", 24), ("val", 6)):
        for c in ("n01", "n02"):
            _images(root / "path/to/imagenet" / split / c, n, seed=len(c) + n)
    (root / "runs").mkdir()
    _model_file(root / "runs/demo", "resnet8", FASHION, 1, 28)
    _model_file(root / "r20.safetensors", "resnet20", [f"c{i}" for i in range(10)], 3, 32)
    _images(root, 1, size=40, ext="jpg")
    (root / "img0.jpg").rename(root / "photo.jpg")
    _images(root, 1, size=40)
    (root / "img0.png").rename(root / "cat.png")
    _images(root / "shoes", 2)
    _images(root / "more/a/b", 2)
    return root


@pytest.fixture
def in_workspace(workspace, monkeypatch):
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("RESNETLAB_DATA", str(workspace / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(workspace / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return workspace


@pytest.mark.slow
@pytest.mark.parametrize("item", COMMANDS, ids=[_id(c) for c in COMMANDS])
def test_readme_command_runs_as_written(item, in_workspace, capsys):
    no, command = item
    if NOT_TESTED in command:
        pytest.skip(command[command.index(NOT_TESTED):])
    program = command.split(" ", 1)[0]
    where = f"README.md line {no}: `{command}`"
    if program == "export":  # the shell setting a variable for the commands after it
        return
    assert program == "resnetlab", (
        f"{where}\n  cannot run in a test: mark it in the README with a trailing comment "
        f"`# ... {NOT_TESTED}: why]`")
    argv = expand_globs(as_run(command), command)
    where += f"\n  ran as: resnetlab {' '.join(map(shlex.quote, argv))}"
    if "--nproc" in argv:  # launches torchrun: a real process tree
        import resnetlab

        src = str(Path(resnetlab.__file__).resolve().parents[1])  # this checkout's, from here
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (src, os.environ.get("PYTHONPATH")) if p)}
        proc = subprocess.run([sys.executable, "-m", "resnetlab", *argv], capture_output=True,
                              text=True, timeout=600, env=env)
        assert proc.returncode == 0, f"{where}\n  exit {proc.returncode}:\n{proc.stderr[-3000:]}"
        return
    from resnetlab.cli import main

    try:
        rc = main(argv)
    except SystemExit as e:  # argparse refuses the command line
        rc = e.code
    captured = capsys.readouterr()
    assert rc == 0, f"{where}\n  exit {rc}:\n{captured.err[-3000:]}\n{captured.out[-2000:]}"
