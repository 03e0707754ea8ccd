"""Robust image decoding: any readable file becomes an RGB square of the asked size, the rest None.

Greyscale, palette, CMYK and transparent images are converted to RGB (transparency over white);
16-bit greyscale (PNG, TIFF) is scaled to 8 bits rather than clipped (Pillow's own conversion
would turn everything above 255 white);
a file whose name lies about its format (PNG bytes in a ``.jpg``) is read by its content. An
empty, truncated or otherwise undecodable file is reported as ``None`` so that the caller skips
it and counts it. The notebook replaced such files by random noise, which trains the networks
on noise labelled as an animal; zsk never does.

A truncated JPEG counts as undecodable rather than being read with a grey lower part: a
half-missing image is a wrong training sample, not a slightly noisy one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

#: File name endings read as images (case-insensitive).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


#: Pillow's modes of integer greyscale wider than 8 bits (16-bit PNG and TIFF open as these)
_WIDE_GREY = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


def to_rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB mode; transparent pixels become white; 16-bit grey scaled to 8 bits."""
    if image.mode == "RGB":
        return image
    if image.mode in _WIDE_GREY:
        grey = np.asarray(image, dtype=np.float64) / 257.0  # 65535 -> 255
        return Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8)).convert("RGB")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def open_rgb(path: Path, *, draft_size: int | None = None) -> Image.Image | None:
    """The fully loaded RGB image at ``path``, or None when it cannot be decoded.

    With ``draft_size``, a JPEG is decoded at the smallest DCT scale (1/2, 1/4, 1/8) whose result
    is still at least ``draft_size`` pixels on each side, which is several times faster than a
    full decode followed by a large downscale.
    """
    try:
        with Image.open(path) as image:
            if draft_size is not None and image.format == "JPEG":
                image.draft("RGB", (draft_size, draft_size))
            image.load()
            return to_rgb(image)
    except _DECODE_ERRORS:
        return None


def decode(path: Path, size: int) -> np.ndarray | None:
    """The image at ``path`` as uint8 (size, size, 3), or None when it cannot be decoded.

    The whole image is resized to the square (no crop), as the report's pipeline does after its
    object crop; antialiased bilinear filtering.
    """
    image = open_rgb(path, draft_size=size)
    if image is None:
        return None
    try:
        resized = image.resize((size, size), Image.Resampling.BILINEAR)
    except _DECODE_ERRORS:
        return None
    return np.asarray(resized, dtype=np.uint8)


def default_workers() -> int:
    """The CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def decode_into(
    paths: Sequence[Path],
    size: int,
    out: np.ndarray,
    *,
    workers: int | None = None,
    on_done: Callable[[], None] | None = None,
) -> list[int]:
    """Decode ``paths`` in parallel into ``out[i]`` (shape (N, 3, size, size), uint8).

    Returns the indices that could not be decoded (their rows are left untouched). Threads
    suffice: Pillow releases the GIL while decoding and resizing. ``on_done`` is called once per
    finished file (for a progress bar).
    """
    if out.shape[1:] != (3, size, size) or len(out) < len(paths):
        raise ValueError(f"out has shape {out.shape}; need ({len(paths)}, 3, {size}, {size})")

    def work(index: int) -> bool:
        pixels = decode(paths[index], size)
        if pixels is None:
            return False
        out[index] = pixels.transpose(2, 0, 1)
        return True

    failed: list[int] = []
    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        for index, ok in enumerate(pool.map(work, range(len(paths)))):
            if not ok:
                failed.append(index)
            if on_done is not None:
                on_done()
    return failed
