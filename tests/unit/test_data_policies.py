"""Batched augmentation ops and policies: PIL's results, NumPy = torch, RandAugment's N ops
at magnitude M (by instrumenting the op table), AutoAugment/TrivialAugment draws, erasing,
one-line errors, and DeviceLoader resume with a policy on."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance, ImageOps

from resnetlab.data import DeviceLoader
from resnetlab.data.pipeline import batch_ops, policies
from resnetlab.data.pipeline.batch_ops import OPS, Op
from resnetlab.data.pipeline.policies import (
    AutoAugment,
    RandAugment,
    RandomErasing,
    TrivialAugmentWide,
    batch_rng,
    make_augment,
)


def _images(n=6, c=3, h=12, w=10, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, c, h, w), dtype=np.uint8)


@pytest.mark.parametrize("name", sorted(OPS))
def test_numpy_and_torch_give_the_same_pixels(name):
    x = _images()
    v = OPS[name].parameter(np.linspace(0.1, 1.0, 6), np.array([1.0, -1.0] * 3), False, 10)
    a = OPS[name].fn(x.copy(), v)
    b = OPS[name].fn(torch.from_numpy(x.copy()), v)
    assert a.dtype == np.uint8 and b.dtype == torch.uint8
    np.testing.assert_array_equal(a, b.numpy())


def _pil(x):
    return Image.fromarray(x[0].transpose(1, 2, 0))


def _back(img):
    return np.asarray(img).transpose(2, 0, 1)[None]


def test_equalize_matches_pil_per_channel():
    x = _images(1, 3, 16, 16) // 3  # a narrower histogram, so equalize changes something
    np.testing.assert_array_equal(batch_ops.equalize(x, None), _back(ImageOps.equalize(_pil(x))))


def test_autocontrast_and_enhance_match_pil_within_one_level():
    x = (_images(1, 3, 16, 16) // 2 + 40).astype(np.uint8)
    ref = _back(ImageOps.autocontrast(_pil(x)))
    assert np.abs(batch_ops.autocontrast(x, None).astype(int) - ref).max() <= 1
    for name, enhancer in (("Brightness", ImageEnhance.Brightness),
                           ("Color", ImageEnhance.Color), ("Sharpness", ImageEnhance.Sharpness)):
        ours = OPS[name].fn(x, np.array([0.6]))
        ref = _back(enhancer(_pil(x)).enhance(1.6))
        assert np.abs(ours.astype(int) - ref).max() <= 1, name


def test_geometry_by_hand():
    a = np.arange(16, dtype=np.uint8).reshape(1, 1, 4, 4) + 1
    np.testing.assert_array_equal(batch_ops.rotate(a, np.array([90.0]))[0, 0], np.rot90(a[0, 0]))
    moved = batch_ops.translate_x(a, np.array([1.0]))[0, 0]
    np.testing.assert_array_equal(moved[:, 1:], a[0, 0, :, :-1])
    assert (moved[:, 0] == 0).all()


@pytest.mark.parametrize("m", [0.3, -0.3, 0.9, 0.17])
def test_affine_ops_match_pil_nearest(m):
    """timm's ops are PIL's img.transform(AFFINE, NEAREST): the same pixels."""
    a = _images(1, 1, 9, 11)
    img = Image.fromarray(a[0, 0])

    def pil(data):
        return np.asarray(img.transform(img.size, Image.AFFINE, data, resample=Image.NEAREST))

    v = np.array([m])
    np.testing.assert_array_equal(batch_ops.shear_x(a, v)[0, 0], pil((1, m, 0, 0, 1, 0)))
    np.testing.assert_array_equal(batch_ops.shear_y(a, v)[0, 0], pil((1, 0, 0, m, 1, 0)))
    t = 10 * m
    np.testing.assert_array_equal(batch_ops.translate_x(a, np.array([t]))[0, 0],
                                  pil((1, 0, -int(t), 0, 1, 0)))
    rotated = batch_ops.rotate(a, np.array([100 * m]))[0, 0]
    ref = np.asarray(img.rotate(100 * m, resample=Image.NEAREST))
    assert (rotated != ref).sum() <= 3  # pixel centres on a boundary may round either way


def test_colour_ops_by_hand():
    x = np.array([0, 100, 127, 128, 200, 255], np.uint8).reshape(1, 1, 1, 6)
    np.testing.assert_array_equal(batch_ops.invert(x, None), 255 - x)
    np.testing.assert_array_equal(batch_ops.solarize(x, np.array([127.0])).ravel(),
                                  [0, 100, 127, 127, 55, 0])  # threshold 128
    np.testing.assert_array_equal(batch_ops.posterize(x, np.array([4.0])).ravel(), x.ravel() & 0xF0)


def _instrument(monkeypatch):
    """Replace every op by a recorder of (name, images, parameters); returns the log."""
    log = []
    for name, op in OPS.items():
        def fn(x, v, name=name, real=op.fn):
            log.append((name, len(x), np.asarray(v, dtype=float)))
            return real(x, v)
        monkeypatch.setitem(OPS, name, Op(fn, op.standard, op.wide, op.signed, op.per_side))
    return log


@pytest.mark.parametrize("n,m", [(1, 5.0), (2, 9.0), (3, 10.0)])
def test_randaugment_applies_n_ops_of_magnitude_m(monkeypatch, n, m):
    log = _instrument(monkeypatch)
    x = _images(64, 3, 8, 8)
    RandAugment(num_ops=n, magnitude=m)(x, batch_rng(0, 0, 0))
    assert sum(count for _, count, _ in log) == n * 64  # every image got exactly n ops
    assert len({name for name, _, _ in log}) > 5  # drawn per image, not one op per batch
    for name, _, v in log:
        op = OPS[name]
        if name in ("TranslateX", "TranslateY"):
            np.testing.assert_allclose(np.abs(v), m / 10 * op.standard * 8)
        elif op.standard:
            np.testing.assert_allclose(np.abs(v), m / 10 * op.standard)


def test_randaugment_magnitude_noise_is_clipped_to_the_scale(monkeypatch):
    log = _instrument(monkeypatch)
    RandAugment(num_ops=2, magnitude=9.0, magnitude_std=2.0)(_images(256), batch_rng(0, 0, 0))
    fracs = np.concatenate([np.abs(v) / OPS[name].standard for name, _, v in log
                            if name in ("ShearX", "Rotate", "Brightness", "Posterize")])
    assert fracs.max() <= 1.0 + 1e-9 and fracs.min() < 0.85 and np.isclose(fracs.max(), 1.0)


def test_trivialaugment_one_wide_op_per_image_from_31_bins(monkeypatch):
    log = _instrument(monkeypatch)
    TrivialAugmentWide()(_images(128), batch_rng(0, 0, 1))
    assert sum(count for _, count, _ in log) == 128
    rot = np.concatenate([np.abs(v) for name, _, v in log if name == "Rotate"])
    np.testing.assert_allclose(rot / 135.0 * 30, np.round(rot / 135.0 * 30), atol=1e-9)


def test_autoaugment_follows_its_policy(monkeypatch):
    log = _instrument(monkeypatch)
    AutoAugment("imagenet")(_images(400), batch_rng(0, 0, 2))
    names = {name for name, _, _ in log}
    allowed = {op for sub in policies.AUTO_POLICIES["imagenet"] for op, _, _ in sub}
    assert names <= allowed and len(names) >= 6
    assert sum(count for _, count, _ in log) < 2 * 400  # each op has a probability < 1 somewhere
    for name, _, v in log:  # levels 0..9 of the standard range
        if OPS[name].standard:
            levels = np.abs(v) / OPS[name].standard * 9
            np.testing.assert_allclose(levels, np.round(levels), atol=1e-9)


def test_random_erasing_fills_one_box_of_the_allowed_area():
    x = np.full((200, 1, 20, 20), 7, np.uint8)
    out = RandomErasing(1.0, fill=(200,))(x, batch_rng(0, 0, 0))
    erased = (out == 200).reshape(200, -1).sum(1) / 400
    assert (erased > 0).mean() > 0.9 and erased.max() <= 1 / 3 + 0.05
    for img in out[:20, 0]:  # the erased pixels form a rectangle
        rows, cols = np.nonzero(img == 200)
        if len(rows):
            assert len(rows) == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)


@pytest.mark.parametrize("call,message", [
    (lambda: make_augment("randaugmnt"), "augment policy 'randaugmnt' is unknown; choose from"),
    (lambda: make_augment("randaugment", magnitude=12), "randaugment_magnitude must be in 0..10"),
    (lambda: AutoAugment("svhn"), "autoaugment policy 'svhn' is unknown"),
    (lambda: make_augment(random_erase=1.5), "random_erase must be a probability in 0..1"),
    (lambda: make_augment(color_jitter=-0.1), "color_jitter must be >= 0"),
])
def test_bad_settings_are_one_line(call, message):
    with pytest.raises(ValueError, match=message) as err:
        call()
    assert "\n" not in str(err.value)


def test_device_loader_resumes_the_same_augmented_batches():
    images = torch.from_numpy(_images(40, 1, 8, 8))
    aug = make_augment("randaugment", magnitude=9, random_erase=0.5)
    loader = DeviceLoader(images, torch.arange(40), 8, train=True, normalize="none", pad=2,
                          augment=aug, seed=3)
    plain = DeviceLoader(images, torch.arange(40), 8, train=True, normalize="none", pad=2,
                         seed=3)
    full = list(loader.epoch_batches(1))
    resumed = list(loader.epoch_batches(1, start=3))
    for (a, ya), (b, yb) in zip(full[3:], resumed):
        assert torch.equal(a, b) and torch.equal(ya, yb)
    first = next(plain.epoch_batches(1))
    assert torch.equal(first[1], full[0][1]) and not torch.equal(first[0], full[0][0])
