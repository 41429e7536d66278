"""Folder transforms on known images: crops, flips, resizes, ten-crop, scales, lighting."""

import random

import numpy as np
import pytest
import torch
from PIL import Image

from resnetlab.data.pipeline.image_transforms import (
    PCA_EIGVAL,
    PCA_EIGVEC,
    CenterCrop,
    MultiScale,
    RandomResizedCrop,
    ScaleAugment,
    TenCrop,
    lighting_offsets,
    make_transform,
    resize_shorter,
)


def known(h, w):
    """An RGB image whose pixels encode their position: R = row, G = column, B = row ^ col."""
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    arr = np.stack([r % 256, c % 256, (r ^ c) % 256], -1).astype(np.uint8)
    return Image.fromarray(arr), arr


def chw(arr):
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def test_center_crop_exact_pixels():
    img, arr = known(256, 320)
    out = CenterCrop(224, 256)(img)
    assert out.dtype == torch.uint8 and out.shape == (3, 224, 224)
    assert torch.equal(out, chw(arr[16:240, 48:272]))
    assert out[0, 0, 0] == 16 and out[1, 0, 0] == 48  # row 16, column 48


def test_ten_crop_corners_center_and_mirrors():
    img, arr = known(256, 300)
    out = TenCrop(224, 256)(img)
    assert out.shape == (10, 3, 224, 224)
    windows = [arr[:224, :224], arr[:224, 76:], arr[32:, :224], arr[32:, 76:], arr[16:240, 38:262]]
    for i, win in enumerate(windows):
        assert torch.equal(out[i], chw(win))
        assert torch.equal(out[i + 5], chw(win[:, ::-1]))


def test_scale_augment_crops_a_window_and_flips():
    img, arr = known(40, 50)
    aug = ScaleAugment(size=24, lo=40, hi=40)  # shorter side stays 40: no resampling
    seen_flip = set()
    for seed in range(12):
        out = aug(img, random.Random(seed)).permute(1, 2, 0).numpy()
        top, left = int(out[0, 0, 0]), int(out[0, :, 1].min())
        flipped = out[0, 0, 1] > out[0, -1, 1]
        window = arr[top:top + 24, left:left + 24]
        np.testing.assert_array_equal(out, window[:, ::-1] if flipped else window)
        seen_flip.add(bool(flipped))
    assert seen_flip == {False, True}


def test_scale_augment_shorter_side_range():
    img, _ = known(60, 90)
    sizes = set()
    for seed in range(30):
        rng = random.Random(seed)
        side = random.Random(seed).randint(30, 45)
        assert min(resize_shorter(img, side).size) == side
        assert ScaleAugment(size=28, lo=30, hi=45)(img, rng).shape == (3, 28, 28)
        sizes.add(side)
    assert len(sizes) > 5
    with pytest.raises(ValueError, match="size <= lo <= hi"):
        ScaleAugment(224, 200, 480)


def test_random_resized_crop_boxes():
    rrc = RandomResizedCrop(16, scale=(0.25, 0.5), ratio=(3 / 4, 4 / 3))
    for seed in range(50):
        left, top, cw, ch = rrc.box(100, 80, random.Random(seed))
        assert 0 <= left and left + cw <= 100 and 0 <= top and top + ch <= 80
        assert 0.23 <= cw * ch / 8000 <= 0.52 and 0.7 <= cw / ch <= 1.4
    # impossible aspect: falls back to the largest central crop within the ratio range
    narrow = RandomResizedCrop(16, scale=(0.9, 1.0), ratio=(1.0, 1.0))
    assert narrow.box(1000, 10, random.Random(0)) == (495, 0, 10, 10)
    img, _ = known(64, 64)
    assert rrc(img, random.Random(0)).shape == (3, 16, 16)


def test_multiscale_shorter_sides():
    img, _ = known(30, 45)
    outs = MultiScale((20, 30, 60))(img)
    assert [tuple(o.shape) for o in outs] == [(3, 20, 30), (3, 30, 45), (3, 60, 90)]


def test_lighting_offsets_formula():
    alpha = torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    off = lighting_offsets(alpha)
    assert torch.equal(off[0], torch.zeros(3))
    expect = sum(a * ev * torch.tensor([row[j] for row in PCA_EIGVEC])
                 for j, (a, ev) in enumerate(zip([1.0, -2.0, 0.5], PCA_EIGVAL)))
    torch.testing.assert_close(off[1], expect)


def test_make_transform_names():
    assert isinstance(make_transform("scale"), ScaleAugment)
    assert isinstance(make_transform("ten-crop", 224), TenCrop)
    with pytest.raises(ValueError, match="unknown transform 'crop'"):
        make_transform("crop")
