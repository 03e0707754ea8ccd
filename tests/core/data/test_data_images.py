"""Robust decoding: every readable kind of file becomes RGB; the unreadable ones become None."""

import io

import numpy as np
import pytest
from PIL import Image

from zsk.core.data.images import decode, decode_into, open_rgb


def _save(path, image, fmt, **options):
    image.save(path, format=fmt, **options)
    return path


@pytest.fixture
def photo():
    """A 64×48 RGB image with a left-right gradient, so a flip or a wrong decode shows."""
    x = np.linspace(0, 255, 64, dtype=np.float32)
    pixels = np.stack([np.tile(x, (48, 1)), np.full((48, 64), 90.0), np.tile(x[::-1], (48, 1))], -1)
    return Image.fromarray(pixels.astype(np.uint8))


def test_rgb_jpeg_decodes_to_square_uint8(tmp_path, photo):
    path = _save(tmp_path / "a.jpg", photo, "JPEG", quality=95)
    pixels = decode(path, 16)
    assert pixels.shape == (16, 16, 3) and pixels.dtype == np.uint8
    expected = np.asarray(photo.resize((16, 16), Image.Resampling.BILINEAR), dtype=np.int16)
    assert np.abs(pixels.astype(np.int16) - expected).mean() < 4


def test_greyscale_and_cmyk_become_rgb(tmp_path, photo):
    grey = decode(_save(tmp_path / "g.jpg", photo.convert("L"), "JPEG"), 8)
    assert grey.shape == (8, 8, 3)
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    cmyk = decode(_save(tmp_path / "c.jpg", photo.convert("CMYK"), "JPEG", quality=95), 8)
    reference = np.asarray(photo.resize((8, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    assert cmyk.shape == (8, 8, 3)
    assert np.abs(cmyk.astype(np.int16) - reference).mean() < 12


def test_png_bytes_behind_a_jpg_name_are_read_by_content(tmp_path, photo):
    path = tmp_path / "misnamed.jpg"
    buffer = io.BytesIO()
    photo.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    assert decode(path, 8).shape == (8, 8, 3)


def test_transparency_becomes_white(tmp_path):
    clear = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    image = open_rgb(_save(tmp_path / "t.png", clear, "PNG"))
    assert image.mode == "RGB" and image.getpixel((5, 5)) == (255, 255, 255)


def test_empty_truncated_and_garbage_files_are_undecodable(tmp_path, photo):
    (tmp_path / "empty.jpg").write_bytes(b"")
    full = _save(tmp_path / "full.jpg", photo, "JPEG").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(full[: len(full) // 2])
    (tmp_path / "text.jpg").write_bytes(b"not an image at all")
    for name in ("empty.jpg", "cut.jpg", "text.jpg"):
        assert decode(tmp_path / name, 8) is None, name


def test_decode_into_fills_good_rows_and_reports_bad_ones(tmp_path, photo):
    good = _save(tmp_path / "good.png", photo, "PNG")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff")
    out = np.full((3, 3, 8, 8), 7, dtype=np.uint8)
    ticks = []
    failed = decode_into([good, bad, good], 8, out, workers=2, on_done=lambda: ticks.append(1))
    assert failed == [1] and len(ticks) == 3
    expected = decode(good, 8).transpose(2, 0, 1)
    assert (out[0] == expected).all() and (out[2] == expected).all()
    assert (out[1] == 7).all()  # untouched
