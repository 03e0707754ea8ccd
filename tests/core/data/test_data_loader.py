"""Split images (decoded or prepared), batches that resume exactly, shards, and batch flips."""

import logging

import numpy as np
import pytest
import torch

from zsk.core.data.augment import random_hflip, random_translate
from zsk.core.data.images import decode
from zsk.core.data.loader import BatchStream, load_split_images
from zsk.core.data.prepared import open_prepared, prepare
from zsk.core.data.synth import synthesize
from zsk.plugins.builtin.datasets.image_folders import Awa2
from zsk.registry import UserError


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = tmp_path_factory.mktemp("shapes")
    synthesize(path, classes=14, unseen=2, images_per_class=3, min_size=16, max_size=24)
    return path


def _load(root):
    return Awa2(Awa2.Params(root=str(root), seen_test_fraction=0.34)).load()


def test_decoded_split_matches_per_file_decoding(root):
    data = _load(root)
    images, labels = load_split_images(data, "test_unseen", 12)
    assert images.shape == (6, 3, 12, 12) and images.dtype == torch.uint8
    assert labels.tolist() == [s.label for s in data.test_unseen]
    for row, sample in enumerate(data.test_unseen):
        expected = np.array(decode(sample.path, 12).transpose(2, 0, 1))
        assert torch.equal(images[row], torch.from_numpy(expected))


def test_prepared_file_gives_the_same_pixels_without_a_copy(tmp_path, root):
    import shutil

    copy = tmp_path / "shapes"
    shutil.copytree(root, copy)
    data = _load(copy)
    decoded = {s: load_split_images(data, s, 10) for s in ("train", "test_seen", "test_unseen")}
    result = prepare(data, 10, workers=2)
    assert result.images == 14 * 3 and not result.skipped
    array = open_prepared(copy, 10).array
    for split, (images, labels) in decoded.items():
        fast, fast_labels = load_split_images(data, split, 10)
        assert torch.equal(fast, images) and torch.equal(fast_labels, labels)
        # rows are grouped by split, so each split is a view into the mapped file
        assert np.shares_memory(fast.numpy(), array)


def test_stale_prepared_file_is_not_used(tmp_path, root, caplog):
    import os
    import shutil

    copy = tmp_path / "shapes"
    shutil.copytree(root, copy)
    data = _load(copy)
    prepare(data, 8, workers=1)
    changed = data.test_unseen[0].path
    os.utime(changed, ns=(1, 1))
    with caplog.at_level(logging.INFO, logger="zsk.data"):
        images, _ = load_split_images(data, "test_unseen", 8)
    assert "out of date" in caplog.text
    assert not np.shares_memory(images.numpy(), open_prepared(copy, 8).array)


def test_undecodable_files_are_skipped_and_counted_once(tmp_path, root, caplog):
    import shutil

    copy = tmp_path / "shapes"
    shutil.copytree(root, copy)
    data = _load(copy)
    broken = data.test_unseen[1].path
    broken.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="zsk.data"):
        images, labels = load_split_images(data, "test_unseen", 8)
    assert len(images) == len(labels) == 5
    assert labels.tolist() == [s.label for i, s in enumerate(data.test_unseen) if i != 1]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 1 of 6" in warnings[0].getMessage()
    assert data.skipped == [broken]


def _stream(n=10, batch=3, **kwargs):
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 2, 2).contiguous()
    return BatchStream(images, torch.arange(n), batch, seed=kwargs.pop("seed", 5), **kwargs)


def test_batches_are_scaled_to_unit_range_and_match_labels():
    images = torch.tensor([0, 255, 128], dtype=torch.uint8).view(3, 1, 1, 1).expand(3, 3, 2, 2)
    stream = BatchStream(images.contiguous(), torch.arange(3), 3, seed=0, shuffle=False)
    batch, labels = next(iter(stream))
    assert batch.dtype == torch.float32 and labels.tolist() == [0, 1, 2]
    expected = torch.tensor([0, 255, 128]) / 127.5 - 1
    torch.testing.assert_close(batch[:, 0, 0, 0], expected.float())


def test_epoch_order_is_a_permutation_fixed_by_seed_and_epoch():
    stream = _stream()
    assert len(stream) == 3  # 10 // 3, last partial batch dropped
    first = [lab.tolist() for _, lab in stream]
    second = [lab.tolist() for _, lab in stream]
    assert first != second and stream.state_dict() == {"epoch": 2, "position": 0}
    assert len({x for b in first for x in b}) == 9
    again = _stream()
    assert [lab.tolist() for _, lab in again] == first
    assert _stream(drop_last=False).__len__() == 4


def test_resume_mid_epoch_continues_the_same_sequence():
    reference = _stream()
    whole = [lab.tolist() for _ in range(3) for _, lab in reference]
    stream = _stream()
    taken = [lab.tolist() for _, lab in stream]  # the first epoch
    for _, labels in stream:  # and one batch of the second
        taken.append(labels.tolist())
        break
    state = stream.state_dict()
    resumed = _stream()
    resumed.load_state_dict(state)
    rest = [lab.tolist() for _ in range(2) for _, lab in resumed]
    assert taken + rest[: len(whole) - 4] == whole


def test_ranks_get_disjoint_equal_shards():
    shards = [
        [x for _, lab in _stream(n=11, batch=2, rank=r, world_size=3) for x in lab.tolist()]
        for r in range(3)
    ]
    assert all(len(s) == 2 for s in shards)  # 11 // 3 = 3 per rank, one batch of 2
    full = [set(_stream(n=11, rank=r, world_size=3).order(0).tolist()) for r in range(3)]
    assert all(len(s) == 3 for s in full) and not (full[0] & full[1] or full[1] & full[2])


def test_too_few_images_for_one_batch_is_a_user_error():
    with pytest.raises(UserError, match="make no batch of 4"):
        _stream(n=3, batch=4)


def test_random_hflip_flips_exactly_the_drawn_samples():
    images = torch.arange(4 * 3 * 2 * 5, dtype=torch.float32).view(4, 3, 2, 5)
    generator = torch.Generator().manual_seed(11)
    flipped = random_hflip(images, torch.Generator().manual_seed(11))
    coins = torch.rand(4, generator=generator) < 0.5
    for i in range(4):
        expected = images[i].flip(-1) if coins[i] else images[i]
        assert torch.equal(flipped[i], expected)
    many = random_hflip(torch.zeros(400, 1, 1, 2).index_fill_(3, torch.tensor([1]), 1.0))
    share = (many[:, 0, 0, 0] == 1).float().mean().item()
    assert 0.35 < share < 0.65


def test_random_translate_crops_each_image_from_its_edge_padded_copy():
    images = torch.randn(6, 3, 7, 5)
    shifted = random_translate(images, 2, torch.Generator().manual_seed(5))
    dy, dx = torch.randint(-2, 3, (2, 6), generator=torch.Generator().manual_seed(5))
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2), mode="replicate")
    for i in range(6):
        rows, cols = slice(2 + dy[i], 2 + dy[i] + 7), slice(2 + dx[i], 2 + dx[i] + 5)
        assert torch.equal(shifted[i], padded[i, :, rows, cols])
    assert random_translate(images, 0) is images


def test_random_translate_draws_every_shift_up_to_the_maximum():
    # one bright pixel in the middle of each image: where it lands is the shift
    images = torch.zeros(2000, 1, 9, 9)
    images[:, :, 4, 4] = 1.0
    moved = random_translate(images, 3).flatten(1).argmax(1)
    rows, cols = moved // 9 - 4, moved % 9 - 4
    assert rows.min() == cols.min() == -3 and rows.max() == cols.max() == 3
    for offsets in (rows, cols):
        counts = torch.bincount(offsets + 3, minlength=7).float()
        assert (counts / counts.sum() - 1 / 7).abs().max() < 0.04


@pytest.mark.parametrize("per_chunk", [1, 2, 100])
def test_cpu_gather_equals_the_plain_conversion(per_chunk, monkeypatch):
    from zsk.core.data import loader
    from zsk.core.data.loader import gather_unit_range, to_unit_range

    monkeypatch.setattr(loader, "CPU_CHUNK_VALUES", per_chunk * 3 * 4 * 4)  # images per chunk

    images = torch.randint(0, 256, (9, 3, 4, 4), dtype=torch.uint8)
    images[0] = 0
    images[1] = 255
    index = torch.tensor([1, 0, 8, 3, 3, 5, 2])
    fast = gather_unit_range(images, index)
    torch.testing.assert_close(fast, images[index].float() / 127.5 - 1, atol=3e-7, rtol=0)
    torch.testing.assert_close(to_unit_range(images[index]), fast, atol=3e-7, rtol=0)
