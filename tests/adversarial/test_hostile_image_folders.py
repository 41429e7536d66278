"""Hostile image folders (issue 13, items 2 and 9): symlinks that climb up or loop, FIFOs
named .png, folders where no image can be read. Each folder is walked once by its real path,
never outside its root; links and non-regular files are skipped and reported; a training
epoch that yields nothing stops with an error instead of spinning forever.

Walks and reads that hung before the fixes run in a forked child with a deadline and an
address-space cap (hostile_inputs.run_forked), so a regression fails instead of hanging.
"""

import os
import warnings

import pytest
from hostile_inputs import call_with_deadline, image_folder, run_forked, write_image

from resnetlab.cli import main as cli_main
from resnetlab.data import FolderLoader, scan_folder
from resnetlab.data.pipeline.image_transforms import CenterCrop, ScaleAugment
from resnetlab.inference.preprocessing import expand_inputs


def labels_by_name(fs):
    return sorted((p.name, fs.classes[label]) for p, label in fs.samples)


def test_link_up_does_not_relabel_other_classes(tmp_path):
    train = image_folder(tmp_path / "train")
    os.symlink("..", train / "cat" / "up")  # train/cat/up/dog/... would be "cat"
    fs = run_forked(lambda: scan_folder(train))
    assert labels_by_name(fs) == sorted(
        [(f"cat{i}.png", "cat") for i in range(3)] + [(f"dog{i}.png", "dog") for i in range(3)])
    assert [(os.path.basename(p), "loop" in why) for p, why in fs.skipped] == [("up", True)]


def test_link_to_itself_counts_each_image_once(tmp_path):
    train = image_folder(tmp_path / "train")
    os.symlink(".", train / "cat" / "loop")
    fs = run_forked(lambda: scan_folder(train))
    assert len(fs) == 6 and [os.path.basename(p) for p, _ in fs.skipped] == ["loop"]


def test_two_self_links_do_not_hang_scan_or_data_info(tmp_path, capsys):
    train = image_folder(tmp_path / "data" / "train")
    os.symlink(".", train / "cat" / "a")
    os.symlink(".", train / "cat" / "b")
    fs = run_forked(lambda: scan_folder(train), timeout=10)
    assert len(fs) == 6 and len(fs.skipped) == 2
    rc = run_forked(lambda: cli_main(["data", "info", str(tmp_path / "data")]), timeout=10)
    assert rc == 0


def test_data_info_says_which_links_were_skipped(tmp_path, capsys):
    outside = image_folder(tmp_path / "elsewhere", classes=("eel",))
    train = image_folder(tmp_path / "data" / "train")
    os.symlink(outside / "eel", train / "cat" / "eels")
    os.symlink(outside / "eel" / "eel0.png", train / "dog" / "borrowed.png")
    os.symlink(train / "dog" / "dog0.png", train / "cat" / "dog0.png")
    os.symlink(train / "cat" / "gone.png", train / "cat" / "broken.png")
    assert cli_main(["data", "info", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "train: 6 images" in out
    for name in ("cat/eels", "dog/borrowed.png", "cat/dog0.png", "cat/broken.png"):
        assert f"train/{name}" in out, out
    assert "outside" in out and "skipped 4" in out
    assert cli_main(["data", "info", str(tmp_path / "data"), "--json"]) == 0
    import json

    info = json.loads(capsys.readouterr().out)
    assert len(info["skipped"]) == 4 and all({"path", "reason"} <= set(s) for s in info["skipped"])


def test_class_folder_links_outside_or_duplicated_are_skipped(tmp_path):
    outside = image_folder(tmp_path / "elsewhere", classes=("eel",))
    train = image_folder(tmp_path / "train")
    os.symlink(outside / "eel", train / "eel")
    os.symlink(train / "dog", train / "hound")
    fs = run_forked(lambda: scan_folder(train))
    assert fs.classes == ["cat", "dog"] and len(fs) == 6
    assert sorted(os.path.basename(p) for p, _ in fs.skipped) == ["eel", "hound"]


def test_root_given_through_a_link_is_read(tmp_path):
    image_folder(tmp_path / "real" / "train")
    os.symlink(tmp_path / "real", tmp_path / "alias")
    fs = scan_folder(tmp_path / "alias" / "train")
    assert len(fs) == 6 and not fs.skipped


def test_fifo_named_png_is_refused_not_opened(tmp_path):
    train = image_folder(tmp_path / "train")
    os.mkfifo(train / "cat" / "stuck.png")
    fs = run_forked(lambda: scan_folder(train))  # opening the FIFO would block forever
    assert len(fs) == 6
    assert [(os.path.basename(p), "not a regular file" in why) for p, why in fs.skipped] == [
        ("stuck.png", True)]


def test_a_fifo_that_replaces_an_image_after_the_scan_is_reported_not_read(tmp_path):
    train = image_folder(tmp_path / "train", per_class=2)
    fs = scan_folder(train)
    victim = train / "cat" / "cat0.png"
    victim.unlink()
    os.mkfifo(victim)
    loader = FolderLoader(fs, 4, train=False, transform=CenterCrop(8, 8), workers=0)

    def first_epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n = sum(len(y) for _, y in loader.epoch_batches(0))
        return n, loader.skipped

    n, skipped = run_forked(first_epoch, timeout=10)
    assert n == 3 and skipped[0][0] == str(victim) and "not a regular file" in skipped[0][1]


def unreadable_folder(root, n=3):
    for split in ("train", "val"):
        for name in ("cat", "dog"):
            for i in range(n):
                p = root / split / name / f"{i}.png"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(b"not a png at all")
    return root


def test_training_epoch_with_no_readable_image_stops_with_a_clear_error(tmp_path):
    root = unreadable_folder(tmp_path / "broken")
    loader = FolderLoader(root / "train", 2, train=True, transform=ScaleAugment(8, 9, 10),
                          workers=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"broken/train: no image could be read"):
            list(loader.epoch_batches(0))
    # a mid-epoch resume at the end of an epoch has nothing to read: that is no error
    assert list(loader.epoch_batches(0, start=len(loader))) == []


def test_train_cli_on_a_folder_with_no_readable_image_exits(tmp_path, capsys):
    root = unreadable_folder(tmp_path / "broken")
    argv = ["train", "--recipe", "paper-imagenet", "--model", "resnet8", "--data", str(root),
            "--iters", "4", "--batch-size", "2", "--device", "cpu", "--progress", "off",
            "--out", str(tmp_path / "run"), "--set", "workers=0", "--set", "image_size=8",
            "--set", "scale_min=9", "--set", "scale_max=10", "--set", "eval_resize=9",
            "--set", "tensorboard=false", "--set", "threads=1", "--set", "warmup_iters=0",
            "--val-size", "2"]

    def train():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cli_main(argv)

    rc = call_with_deadline(train, 60)
    err = capsys.readouterr().err
    assert rc == 2 and "no image could be read" in err and "broken/train" in err, err


def test_predict_glob_with_self_links_terminates_and_reports_them(tmp_path):
    d = tmp_path / "imgs"
    write_image(d / "x.png")
    write_image(d / "sub" / "y.jpg")
    os.symlink(".", d / "a")
    os.symlink(".", d / "sub" / "b")
    os.mkfifo(d / "sub" / "z.png")
    files, errors = run_forked(lambda: expand_inputs([f"{d}/**"]), timeout=10)
    assert files == [d / "sub" / "y.jpg", d / "x.png"]
    assert sorted(os.path.basename(e["path"]) for e in errors) == ["a", "b", "z.png"]
    files, errors = run_forked(lambda: expand_inputs([f"{d}/**/*.jpg", str(d)]), timeout=10)
    assert files == [d / "sub" / "y.jpg", d / "x.png"]
    files, _ = run_forked(lambda: expand_inputs([f"{d}/*.png"]), timeout=10)
    assert files == [d / "x.png"]


def test_glob_segments_match_like_glob_without_following_links(tmp_path):
    from resnetlab.data.sets.walk import glob_files

    for rel in ("a/x.png", "a/deep/y.png", "a/deep/z.jpg", "b/w.png"):
        write_image(tmp_path / rel)
    os.symlink(tmp_path / "b", tmp_path / "a" / "to_b")

    def names(pattern):
        w = glob_files(str(tmp_path / pattern))
        return [str(f.relative_to(tmp_path)) for f in w.files], [os.path.basename(p)
                                                                  for p, _ in w.skipped]

    assert names("a/**/*.png") == (["a/deep/y.png", "a/x.png"], ["to_b"])
    assert names("*/**") == (["a/deep/y.png", "a/deep/z.jpg", "a/x.png", "b/w.png"], ["to_b"])
    assert names("**/deep") == (["a/deep/y.png", "a/deep/z.jpg"], ["to_b"])
    # a link that a non-recursive pattern names itself is read, like a folder given by name
    assert names("a/*") == (["a/deep/y.png", "a/deep/z.jpg", "a/to_b/w.png", "a/x.png"], [])


def test_predict_names_a_fifo_given_by_name_as_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "stuck.png")
    files, errors = run_forked(lambda: expand_inputs([tmp_path / "stuck.png"]))
    assert files == [] and "not a regular file" in errors[0]["error"], errors
