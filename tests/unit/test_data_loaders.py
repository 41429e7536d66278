"""DeviceLoader: crops and flips on known images, normalisation, resume, shards, eval coverage."""

import numpy as np
import pytest
import torch

from resnetlab.data import DeviceLoader
from resnetlab.data.pipeline.batch_augment import crop_flip


def _ramp(n=1, c=2, h=6, w=5):
    """Images whose pixel value encodes (image, channel, row, column), all distinct and > 0."""
    v = torch.arange(n * c * h * w).reshape(n, c, h, w) % 255 + 1
    return v.to(torch.uint8)


@pytest.mark.parametrize("dy,dx,flip", [(0, 0, False), (4, 4, False), (8, 1, True), (3, 7, True)])
@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_crop_flip_matches_reference_slicing(dy, dx, flip, backend):
    x = _ramp()
    src = x.numpy() if backend == "numpy" else x
    out = crop_flip(src, torch.tensor([dy]), torch.tensor([dx]), torch.tensor([flip]), pad=4)
    ref = np.pad(x.numpy(), ((0, 0), (0, 0), (4, 4), (4, 4)))[:, :, dy:dy + 6, dx:dx + 5]
    if flip:
        ref = ref[..., ::-1]
    assert out.shape == x.shape
    np.testing.assert_array_equal(np.asarray(out), ref)


def test_crop_known_pixels_by_hand():
    x = _ramp(h=6, w=5)
    out = crop_flip(x, torch.tensor([0]), torch.tensor([0]), torch.tensor([False]), pad=4)
    assert (out[0, :, :4, :] == 0).all() and (out[0, :, :, :4] == 0).all()
    assert out[0, 0, 4, 4] == x[0, 0, 0, 0] and out[0, 1, 5, 4] == x[0, 1, 1, 0]
    flipped = crop_flip(x, torch.tensor([0]), torch.tensor([0]), torch.tensor([True]), pad=0)
    assert flipped[0, 0, 0, 0] == x[0, 0, 0, 4] and flipped[0, 1, 2, 4] == x[0, 1, 2, 0]


def test_crop_flip_per_sample_in_one_batch():
    x = _ramp(n=3)
    dy, dx, f = torch.tensor([0, 8, 4]), torch.tensor([8, 0, 4]), torch.tensor([True, False, True])
    out = crop_flip(x, dy, dx, f, pad=4)
    for i in range(3):
        one = crop_flip(x[i:i + 1], dy[i:i + 1], dx[i:i + 1], f[i:i + 1], 4)
        np.testing.assert_array_equal(out[i:i + 1].numpy(), one.numpy())


def _indexed_set(n, h=6, w=6):
    """n distinct ramp images; image i has label i, which identifies the sample."""
    images = _ramp(n, 1, h, w)
    return images, torch.arange(n)


def _loader(n=50, batch=8, **kw):
    images, labels = _indexed_set(n)
    kw.setdefault("train", True)
    kw.setdefault("normalize", "none")
    return DeviceLoader(images, labels, batch, pad=2, **kw), images


def test_train_batches_are_crops_and_flips_of_their_images():
    loader, images = _loader()
    offsets, flips = set(), set()
    for x, y in loader.epoch_batches(0):
        assert x.dtype == torch.float32 and y.dtype == torch.int64 and x.shape[1:] == (1, 6, 6)
        for xi, yi in zip((x * 255).round().to(torch.uint8), y):
            img = images[yi][None]
            match = [(dy, dx, f) for dy in range(5) for dx in range(5) for f in (False, True)
                     if torch.equal(crop_flip(img, torch.tensor([dy]), torch.tensor([dx]),
                                              torch.tensor([f]), 2)[0], xi)]
            assert match, f"sample {yi} is not a pad-2 crop/flip of its image"
            offsets.add(match[0][:2])
            flips.add(match[0][2])
    assert len(offsets) > 10 and flips == {False, True}


@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_smaller_crop_is_the_window_of_the_padded_image(backend):
    x = _ramp(h=6, w=6)
    src = x.numpy() if backend == "numpy" else x
    out = crop_flip(src, torch.tensor([3]), torch.tensor([1]), torch.tensor([True]), 1, size=4)
    ref = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))[:, :, 3:7, 1:5][..., ::-1]
    np.testing.assert_array_equal(np.asarray(out), ref)


def _crop_of(img, xi, pad, size):
    """The (dy, dx, flip) that cut xi out of img, or None."""
    span = img.shape[-1] + 2 * pad - size
    for dy in range(span + 1):
        for dx in range(span + 1):
            for f in (False, True):
                if torch.equal(crop_flip(img[None], torch.tensor([dy]), torch.tensor([dx]),
                                         torch.tensor([f]), pad, size)[0], xi):
                    return dy, dx, f
    return None


def test_crop_sizes_follow_the_epoch_and_the_last_repeats():
    loader, images = _loader(train_sizes=(3, 5), size_mode="crop")
    for epoch, size in ((0, 3), (1, 5), (4, 5)):
        x, y = next(iter(loader.epoch_batches(epoch)))
        assert x.shape[2:] == (size, size)
        for xi, yi in zip((x * 255).round().to(torch.uint8), y):
            assert _crop_of(images[yi], xi, 2, size), f"sample {yi}: no {size}px crop"
    evaluation = DeviceLoader(images, torch.arange(50), 8, train=False, normalize="none",
                              train_sizes=(3,), size_mode="crop")
    assert next(iter(evaluation.epoch_batches(0)))[0].shape[2:] == (6, 6)


def test_train_sizes_out_of_range_are_refused_by_name():
    images, labels = _indexed_set(10)
    with pytest.raises(ValueError, match=r"train_sizes \[3, 11\]: each must be in 1..10 px"):
        DeviceLoader(images, labels, 4, train=True, pad=2, train_sizes=(3, 11), size_mode="crop")
    with pytest.raises(ValueError, match="size_mode must be one of resize, crop, not 'zoom'"):
        DeviceLoader(images, labels, 4, train=True, train_sizes=(3,), size_mode="zoom")


def test_resize_sizes_downscale_whole_images_per_epoch():
    images, labels = _indexed_set(20, h=8, w=8)
    loader = DeviceLoader(images, labels, 5, train=True, normalize="none", pad=0, flip=False,
                          train_sizes=(4, 8))
    x, y = next(iter(loader.epoch_batches(0)))
    small = torch.nn.functional.interpolate(images[y].float(), size=(4, 4), mode="bilinear",
                                            antialias=True).round()
    assert x.shape[2:] == (4, 4) and torch.equal((x * 255).round(), small)
    x, y = next(iter(loader.epoch_batches(3)))
    assert torch.equal((x * 255).round().to(torch.uint8), images[y])
    with pytest.raises(ValueError, match=r"train_sizes \[9\]: each must be in 1..8 px"):
        DeviceLoader(images, labels, 5, train=True, pad=4, train_sizes=(9,))
    with pytest.raises(ValueError, match="needs per-channel normalization"):
        DeviceLoader(images, labels, 5, train=True, normalize="pixel", train_sizes=(4,))


def test_alternate_flip_mirrors_each_image_every_other_epoch():
    images, labels = _indexed_set(50)
    loader = DeviceLoader(images, labels, 10, train=True, normalize="none", pad=0,
                          alternate_flip=True)

    def flips(epoch):
        out = {}
        for x, y in loader.epoch_batches(epoch):
            for xi, yi in zip((x * 255).round().to(torch.uint8), y):
                out[int(yi)] = not torch.equal(xi, images[yi])
        return out

    e0, e1, e2 = flips(0), flips(1), flips(2)
    assert 10 < sum(e0.values()) < 40
    assert all(e1[i] != e0[i] for i in e0) and e2 == e0


def test_len_drop_last_and_epoch_shuffle():
    loader, _ = _loader(n=50, batch=8)
    assert len(loader) == 6 and loader.num_samples == 48
    e0 = torch.cat([y for _, y in loader.epoch_batches(0)])
    e1 = torch.cat([y for _, y in loader.epoch_batches(1)])
    assert len(set(e0.tolist())) == 48 and not torch.equal(e0, e1)
    keep, _ = _loader(n=50, batch=8, drop_last=False)
    assert len(keep) == 7
    assert sorted(torch.cat([y for _, y in keep.epoch_batches(0)]).tolist()) == list(range(50))


def test_deterministic_and_resumable_at_epoch_batch():
    a, _ = _loader(seed=5)
    b, _ = _loader(seed=5)
    full = list(a.epoch_batches(3))
    resumed = list(b.epoch_batches(3, start=4))
    assert len(resumed) == len(full) - 4
    for (xa, ya), (xb, yb) in zip(full[4:], resumed):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    b.set_epoch(3)
    assert all(torch.equal(p[0], q[0]) for p, q in zip(full, b))
    c, _ = _loader(seed=6)
    assert not torch.equal(next(c.epoch_batches(3))[1], full[0][1])
    with pytest.raises(ValueError, match="start batch"):
        next(a.epoch_batches(0, start=99))


def test_rank_shards_disjoint_and_cover_each_global_batch():
    world = 4
    single, _ = _loader(n=70, batch=16, seed=1)
    ranks = [_loader(n=70, batch=16, seed=1, rank=r, world_size=world)[0] for r in range(world)]
    assert all(len(r) == len(single) == 4 for r in ranks)
    per_rank = [list(r.epoch_batches(2)) for r in ranks]
    for i, (x, y) in enumerate(single.epoch_batches(2)):
        parts = [per_rank[r][i] for r in range(world)]
        assert all(len(p[1]) == 4 for p in parts)
        ys = torch.cat([p[1] for p in parts])
        assert len(set(ys.tolist())) == 16 and torch.equal(ys, y)
        assert torch.equal(torch.cat([p[0] for p in parts]), x)  # same augmentation too


def test_eval_covers_every_sample_once_without_padding():
    images, labels = _indexed_set(1001)
    seen, lens = [], []
    for rank in range(2):
        loader = DeviceLoader(images, labels, 64, train=False, mean=(0.5,), std=(0.25,),
                              rank=rank, world_size=2)
        batches = list(loader.epoch_batches(0))
        lens.append(len(loader))
        assert len(batches) == len(loader) and loader.num_samples == sum(len(y) for _, y in batches)
        for x, y in batches:
            expect = (images[y].float() / 255 - 0.5) / 0.25  # no augmentation
            torch.testing.assert_close(x, expect)
            seen += y.tolist()
    assert sorted(seen) == list(range(1001)) and lens == [16, 16]
    with pytest.raises(ValueError, match="never drops"):
        DeviceLoader(images, labels, 64, train=False, mean=(0.5,), std=(0.25,), drop_last=True)


def test_eval_is_not_shuffled():
    images, labels = _indexed_set(10)
    loader = DeviceLoader(images, labels, 4, train=False, normalize="none")
    assert torch.cat([y for _, y in loader.epoch_batches(7)]).tolist() == list(range(10))


def test_channel_and_pixel_normalisation():
    images = torch.randint(0, 256, (20, 3, 4, 4), dtype=torch.uint8)
    labels = torch.zeros(20, dtype=torch.int64)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 0.125)
    x, _ = next(DeviceLoader(images, labels, 20, train=False, mean=mean, std=std).epoch_batches(0))
    m, s = torch.tensor(mean).view(3, 1, 1), torch.tensor(std).view(3, 1, 1)
    torch.testing.assert_close(x, (images.float() / 255 - m) / s)
    train = DeviceLoader(images, labels, 20, train=True, normalize="pixel", pad=0, flip=False)
    pm = images.double().mean(0).float() / 255
    torch.testing.assert_close(train.pixel_mean, pm)
    xs = next(train.epoch_batches(0))[0]
    assert xs.mean(0).abs().max() < 1e-5  # per-pixel mean removed
    with pytest.raises(ValueError, match="pixel_mean"):
        DeviceLoader(images, labels, 4, train=False, normalize="pixel")
    ev = DeviceLoader(images, labels, 20, train=False, normalize="pixel", pixel_mean=pm)
    torch.testing.assert_close(next(iter(ev))[0], images.float() / 255 - pm)


def test_channels_last_same_values():
    images = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8)
    labels = torch.arange(16)
    kw = dict(train=True, mean=(0.5,) * 3, std=(0.5,) * 3, seed=2)
    a = next(DeviceLoader(images, labels, 8, **kw).epoch_batches(0))[0]
    b = next(DeviceLoader(images, labels, 8, channels_last=True, **kw).epoch_batches(0))[0]
    assert a.is_contiguous() and b.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(a, b)


def test_bad_arguments_are_clear():
    images, labels = _indexed_set(10)
    with pytest.raises(ValueError, match="multiple of world_size 3"):
        DeviceLoader(images, labels, 8, train=True, normalize="none", world_size=3)
    with pytest.raises(ValueError, match="exceeds the 10 training samples"):
        DeviceLoader(images, labels, 16, train=True, normalize="none")
    with pytest.raises(ValueError, match="needs mean and std"):
        DeviceLoader(images, labels, 4, train=True)
    with pytest.raises(ValueError, match="rank must be"):
        DeviceLoader(images, labels, 4, train=True, normalize="none", rank=2, world_size=2)
    with pytest.raises(ValueError, match="uint8"):
        DeviceLoader(images.float(), labels, 4, train=True, normalize="none")


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("normalize", ["channel", "pixel"])
def test_numpy_cpu_path_equals_torch_device_path(channels_last, normalize):
    """CPU batches are built in NumPy, CUDA ones in torch: both give the same batches."""
    images = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8)
    labels = torch.arange(40)
    kw = dict(mean=(0.4, 0.5, 0.6), std=(0.2, 0.3, 0.4), normalize=normalize, seed=4,
              channels_last=channels_last)
    for train in (True, False):
        a = DeviceLoader(images, labels, 16, train=train, **kw,
                         pixel_mean=images.float().mean(0) / 255)
        b = DeviceLoader(images, labels, 16, train=train, **kw,
                         pixel_mean=images.float().mean(0) / 255)
        b._numpy = False
        assert a._numpy
        for (xa, ya), (xb, yb) in zip(a.epoch_batches(1), b.epoch_batches(1), strict=True):
            torch.testing.assert_close(xa, xb, rtol=0, atol=1e-6)
            assert torch.equal(ya, yb)
            assert xa.is_contiguous(memory_format=torch.channels_last) == channels_last
            assert xb.is_contiguous(memory_format=torch.channels_last) == channels_last


def test_torch_path_makes_no_host_arrays_per_batch(monkeypatch):
    """On CUDA each host-to-device copy from pageable memory waits for the queued kernels, so
    a batch built from host index arrays (three a batch, once) kept the host from running
    ahead of the GPU. The torch path draws the epoch's order and crops once and indexes on
    the device; here, on CPU, no torch.from_numpy may happen while the batches are built."""
    images = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8)
    loader = DeviceLoader(images, torch.arange(40), 16, train=True, mean=(0.5,) * 3,
                          std=(0.2,) * 3, seed=1)
    loader._numpy = False
    calls = []
    real = torch.from_numpy
    monkeypatch.setattr(torch, "from_numpy", lambda a: calls.append(a.shape) or real(a))
    batches = list(loader.epoch_batches(0))
    assert len(batches) == 2 and calls == []


def test_last_partial_batch_split_across_ranks_without_drop():
    ranks = [_loader(n=70, batch=16, seed=1, rank=r, world_size=4, drop_last=False)[0]
             for r in range(4)]
    assert all(len(r) == 5 for r in ranks)
    last = [list(r.epoch_batches(0))[-1][1].tolist() for r in ranks]
    assert [len(b) for b in last] == [1, 2, 1, 2] and sum(r.num_samples for r in ranks) == 70
    everything = [y for r in ranks for _, ys in r.epoch_batches(0) for y in ys.tolist()]
    assert sorted(everything) == list(range(70))
