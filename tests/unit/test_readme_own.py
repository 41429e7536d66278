"""The README's "Use your own model / data / loop" section runs as written: its Python blocks
are extracted and executed, its commands run through the CLI, on a tiny image folder and the
shared Idelbayev fixture placed in the weights cache (run length cut to a few steps)."""

import shutil
from pathlib import Path

import pytest
from test_train_finetune import image_folder
from weightfiles import isolated  # noqa: F401 (autouse fixture)

import resnetlab.train
from resnetlab.cli import main
from resnetlab.weights import cache_path

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Use your own model / data / loop"
QUICK = {"iters": 2, "batch_size": 6, "eval_batch_size": 16, "device": "cpu", "amp": "off",
         "progress": "off", "warmup_iters": 1, "tensorboard": False}


def section_blocks(lang: str) -> list[str]:
    text = README.read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    blocks, current, kind = [], None, None
    for line in text[start:end].splitlines():
        if line.startswith("```"):
            if current is None:
                current, kind = [], line[3:].strip()
            else:
                if kind == lang:
                    blocks.append("\n".join(current) + "\n")
                current = None
        elif current is not None:
            current.append(line)
    return blocks


@pytest.fixture
def workspace(fixtures_dir, tmp_path, monkeypatch):
    dest = cache_path("cifar10-resnet20")
    dest.parent.mkdir(parents=True)
    shutil.copy(fixtures_dir / "cifar10-reference" / dest.name, dest)
    image_folder(tmp_path / "my_images")
    image_folder(tmp_path / "my_photos", size=80, mode="RGB", splits=(("train", 2),
                                                                      ("val", 1)))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_python_examples_run(workspace, monkeypatch):
    blocks = section_blocks("python")
    assert len(blocks) == 3
    real = resnetlab.train.load_recipe
    monkeypatch.setattr(resnetlab.train, "load_recipe",
                        lambda name, over=None: real(name, {**{k: v for k, v in (over or {})
                                                               .items() if k != "epochs"},
                                                            **QUICK}))
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert (workspace / "runs" / "mine" / "report.md").is_file()
    assert "fc.weight" in (workspace / "runs" / "tuned" / "report.md").read_text()


def test_the_commands_run(workspace, monkeypatch):
    (block,) = section_blocks("")
    commands = [line.split("#")[0].split() for line in block.splitlines() if line.strip()]
    assert commands[0][:2] == ["resnetlab", "train"]
    # tv-resnet18-v1 stands for any published weights; the cached CIFAR-10 file is used
    for i, cmd in enumerate(commands):
        args = [a.replace("tv-resnet18-v1", "cifar10-resnet20") for a in cmd[1:]]
        if "--epochs" in args:  # the run's length is cut to --iters 2
            del args[args.index("--epochs"):args.index("--epochs") + 2]
        args += ["--iters", "2", "--batch-size", "6", "--device", "cpu", "--progress", "off",
                 "--out", f"runs/cmd{i}", "--set", "tensorboard=false"]
        assert main(args) == 0, cmd
