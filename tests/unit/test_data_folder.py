"""Image folders: scanning, decoding, FolderLoader batches, shards, resume, corrupt files."""

import io

import numpy as np
import pytest
import torch
from datafiles import make_folder, write_image
from PIL import Image

from resnetlab.data import FolderLoader, scan_folder
from resnetlab.data.pipeline.image_transforms import CenterCrop, ScaleAugment
from resnetlab.data.pipeline.policies import make_augment

TINY_TRAIN = ScaleAugment(size=16, lo=20, hi=30)
TINY_EVAL = CenterCrop(16, 20)


def test_scan_classes_images_and_clutter(tmp_path):
    fs = scan_folder(make_folder(tmp_path))
    assert fs.classes == ["cat", "dog", "eel"] and len(fs) == 12
    assert all(p.suffix.lower() in (".jpg", ".png", ".webp") for p, _ in fs.samples)
    assert [lab for _, lab in fs.samples] == [0] * 4 + [1] * 4 + [2] * 4
    assert any("nested" in str(p) for p, _ in fs.samples)


def test_scan_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        scan_folder(tmp_path / "none")
    (tmp_path / "flat.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="no class folders"):
        scan_folder(tmp_path)
    write_image(tmp_path / "a" / "x.png", 1)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "readme.md").write_text("x")
    with pytest.raises(ValueError, match="with no images.*: b;"):
        scan_folder(tmp_path)


def _ys(loader, epoch=0, start=0):
    return [y.tolist() for _, y in loader.epoch_batches(epoch, start)]


def test_eval_decodes_every_format_to_rgb_and_normalises(tmp_path):
    loader = FolderLoader(make_folder(tmp_path), 5, train=False, transform=TINY_EVAL, workers=0,
                          mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    xs, ys = zip(*loader.epoch_batches(0))
    x, y = torch.cat(xs), torch.cat(ys)
    assert len(loader) == 3 and x.shape == (12, 3, 16, 16) and x.dtype == torch.float32
    assert y.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    expect = torch.tensor([60 * c + i for c in range(3) for i in range(4)]) / 255
    per_image = x.mean(dim=(1, 2, 3))
    assert torch.allclose(per_image, expect, atol=2 / 255)  # JPEG/WebP are lossy
    assert (x.amax(dim=(2, 3)) - x.amin(dim=(2, 3))).max() < 3 / 255  # grey/RGBA -> 3 channels


def test_eval_ranks_cover_every_image_once(tmp_path):
    root = make_folder(tmp_path, per_class=5)  # 15 images, 2 ranks, global batch 4
    seen = []
    for rank in range(2):
        loader = FolderLoader(root, 4, train=False, transform=TINY_EVAL, workers=0, rank=rank,
                              world_size=2)
        seen += [y for b in _ys(loader) for y in b]
        assert len(loader) == 4
    assert sorted(seen) == sorted([0] * 5 + [1] * 5 + [2] * 5)


def test_train_deterministic_across_workers_and_resumable(tmp_path):
    root = make_folder(tmp_path, per_class=4)
    kw = dict(train=True, transform=TINY_TRAIN, seed=3)
    a = list(FolderLoader(root, 4, workers=0, **kw).epoch_batches(2))
    b = list(FolderLoader(root, 4, workers=2, **kw).epoch_batches(2))
    c = list(FolderLoader(root, 4, workers=0, **kw).epoch_batches(2, start=1))
    assert len(a) == 3 and a[0][0].shape == (4, 3, 16, 16)
    for (xa, ya), (xb, yb) in zip(a, b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    for (xa, ya), (xc, yc) in zip(a[1:], c):
        assert torch.equal(xa, xc) and torch.equal(ya, yc)
    other = list(FolderLoader(root, 4, workers=0, **kw).epoch_batches(3))
    assert not all(torch.equal(p[1], q[1]) for p, q in zip(a, other))


def test_train_lighting_shifts_colour(tmp_path):
    root = make_folder(tmp_path, per_class=2)
    kw = dict(train=True, transform=TINY_TRAIN, workers=0, seed=1, mean=(0, 0, 0), std=(1, 1, 1))
    plain = next(FolderLoader(root, 6, lighting=0.0, **kw).epoch_batches(0))[0]
    lit = next(FolderLoader(root, 6, lighting=0.1, **kw).epoch_batches(0))[0]
    shift = (lit - plain).mean(dim=(2, 3))
    assert shift.abs().max() > 1e-3
    torch.testing.assert_close(lit - plain, shift[:, :, None, None].expand_as(lit))


def test_distributed_sampler_compatible(tmp_path):
    root = make_folder(tmp_path, per_class=4)
    seen = []
    for rank in range(2):
        sampler = torch.utils.data.DistributedSampler(range(12), num_replicas=2, rank=rank,
                                                      shuffle=True, seed=0)
        loader = FolderLoader(root, 4, train=True, transform=TINY_TRAIN, workers=0,
                              sampler=sampler, rank=rank, world_size=2)
        assert len(loader) == 3
        seen += [y for b in _ys(loader, epoch=1) for y in b]
    assert sorted(seen) == sorted([0] * 4 + [1] * 4 + [2] * 4)


def test_ten_crop_and_multiscale_shapes(tmp_path):
    root = make_folder(tmp_path, per_class=1)
    write_image(root / "cat" / "big.png", 9, size=(300, 260))
    ten = FolderLoader(root, 2, train=False, transform="ten-crop", workers=0)
    x, _ = next(ten.epoch_batches(0))
    assert x.shape == (2, 10, 3, 224, 224)
    multi = FolderLoader(root, 1, train=False, transform="multiscale", workers=0)
    x, _ = next(multi.epoch_batches(0))
    assert [min(s.shape[2:]) for s in x] == [224, 256, 384, 480, 640]
    with pytest.raises(ValueError, match="one image per rank"):
        FolderLoader(root, 4, train=False, transform="multiscale")
    with pytest.raises(ValueError, match="does not fit train=True"):
        FolderLoader(root, 4, train=True, transform="center")


def test_corrupt_images_reported_by_path_and_counted(tmp_path):
    root = make_folder(tmp_path, per_class=3)
    buf = io.BytesIO()
    Image.fromarray(np.zeros((30, 30, 3), np.uint8)).save(buf, "JPEG")
    (root / "dog" / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (root / "eel" / "garbage.jpg").write_bytes(b"this is no jpeg")
    loader = FolderLoader(root, 11, train=False, transform=TINY_EVAL, workers=0)
    with pytest.warns(UserWarning) as rec:
        ys = _ys(loader)
    msgs = [str(w.message) for w in rec]
    assert any("truncated.jpg" in m for m in msgs) and any("garbage.jpg" in m for m in msgs)
    assert any("skipped 2 unreadable image(s) of 11" in m for m in msgs)
    assert sum(len(b) for b in ys) == 9 and len(loader.skipped) == 2
    strict = FolderLoader(root, 11, train=False, transform=TINY_EVAL, workers=0,
                          skip_corrupt=False)
    with pytest.raises(ValueError, match="garbage.jpg|truncated.jpg"):
        _ys(strict)


def test_train_batch_augment_is_applied_and_resumable(tmp_path):
    root = make_folder(tmp_path, per_class=4)
    aug = make_augment("randaugment", magnitude=9, random_erase=1.0, erase_fill=(255, 0, 255))
    kw = dict(train=True, transform=TINY_TRAIN, seed=3, workers=0, mean=(0, 0, 0),
              std=(1, 1, 1), lighting=0.0)
    a = list(FolderLoader(root, 4, augment=aug, **kw).epoch_batches(1))
    c = list(FolderLoader(root, 4, augment=aug, **kw).epoch_batches(1, start=1))
    plain = list(FolderLoader(root, 4, **kw).epoch_batches(1))
    for (xa, ya), (xc, yc) in zip(a[1:], c):
        assert torch.equal(xa, xc) and torch.equal(ya, yc)
    erased = (a[0][0] == torch.tensor([1.0, 0.0, 1.0])[:, None, None]).all(1)
    assert erased.flatten(1).any(1).all()  # every image got its box
    assert torch.equal(a[0][1], plain[0][1]) and not torch.equal(a[0][0], plain[0][0])
