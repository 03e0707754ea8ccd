"""Attribute rows from class names and predicate edits, image reading, translation refusal."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from zsk.core.evaluate.pictures import (
    attribute_rows,
    generate_images,
    lookup,
    parse_edits,
    read_image,
    save_grid,
    translate_image,
)
from zsk.registry import UserError


def test_lookup_accepts_spaces_for_plus_and_suggests_close_names():
    names = ["grizzly+bear", "polar+bear", "zebra"]
    assert lookup("Grizzly Bear", names, "class", "--class") == 0
    with pytest.raises(UserError) as caught:
        lookup("zebar", names, "class", "--class")
    message = caught.value.render()
    assert "unknown class 'zebar'" in message and "Did you mean 'zebra'?" in message
    assert message.startswith("--class")


def test_parse_edits_reads_name_value_pairs(toy):
    predicates = toy.data().predicates
    assert parse_edits("red=1, fast=0.5", predicates) == {0: 1.0, 5: 0.5}
    with pytest.raises(UserError, match="unknown predicate 'furr'. Did you mean 'furry'"):
        parse_edits("furr=1", predicates)
    with pytest.raises(UserError, match="not NAME=VALUE"):
        parse_edits("red", predicates)
    with pytest.raises(UserError, match="'lots' of predicate 'red' is not a finite number"):
        parse_edits("red=lots", predicates)


def test_attribute_rows_edit_class_rows_or_zeros(toy):
    data = toy.data()
    rows, captions = attribute_rows(data, ["class4", "class1"], "big=1")
    expected = data.attributes[[4, 1]].clone()
    expected[:, 3] = 1.0
    assert torch.equal(rows, expected)
    assert captions == ["class4 big=1", "class1 big=1"]
    rows, captions = attribute_rows(data, [], "red=1,fast=1")
    assert rows.tolist() == [[1.0, 0.0, 0.0, 0.0, 0.0, 1.0]]
    with pytest.raises(UserError, match="name a class or give attributes"):
        attribute_rows(data, [], None)


def test_generated_images_follow_rows_and_seed(toy):
    gan, data = toy.gan(), toy.data()
    rows, _ = attribute_rows(data, ["class0", "class2"], None)
    first = generate_images(gan, data, rows, 3, seed=7, device=torch.device("cpu"))
    again = generate_images(gan, data, rows, 3, seed=7, device=torch.device("cpu"))
    assert first.shape == (6, 3, 16, 16) and first.dtype == torch.uint8
    assert torch.equal(first, again)
    # class0 is red (channel 0 bright), class2 blue: rows are row-major
    assert first[:3, 0].float().mean() > first[:3, 2].float().mean()
    assert first[3:, 2].float().mean() > first[3:, 0].float().mean()


def test_save_grid_with_captions_widens_the_picture(tmp_path):
    images = torch.zeros(4, 3, 16, 16, dtype=torch.uint8)
    plain = save_grid(images, 2, tmp_path / "plain.png")
    captioned = save_grid(images, 2, tmp_path / "captioned.png", ["a", "b"])
    with Image.open(plain) as a, Image.open(captioned) as b:
        assert a.size == (2 + 2 * 18, 2 + 2 * 18)
        assert b.size[0] > a.size[0] and b.size[1] == a.size[1]


def test_read_image_refuses_unreadable_files(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 definitely not a whole jpeg")
    with pytest.raises(UserError, match="cannot read .*broken.jpg as an image"):
        read_image(broken, 16)
    with pytest.raises(UserError, match="no such image file"):
        read_image(tmp_path / "absent.png", 16)
    good = tmp_path / "good.png"
    Image.new("RGB", (40, 30), (255, 0, 0)).save(good)
    image = read_image(good, 16)
    assert image.shape == (1, 3, 16, 16) and int(image[0, 0].min()) == 255


def test_translation_needs_a_translating_generator(toy):
    image = torch.zeros(1, 3, 16, 16, dtype=torch.uint8)
    target = toy.data().attributes[4]
    with pytest.raises(UserError, match="cannot translate an image"):
        translate_image(toy.gan(), image, target, 0, torch.device("cpu"))
    reconstruction, translation = translate_image(
        toy.gan(translating=True), image, target, 0, torch.device("cpu")
    )
    assert reconstruction is None  # the toy discriminator has no reconstruction head
    assert translation.shape == (1, 3, 16, 16)
