"""Pictures from a trained run: images of any class or edited attribute vector, and translations.

Attribute values are in the data set's own scale (the rows of ``ZslData.attributes``), so
``--attributes stripes=1`` means "stripes as strongly as a class whose row holds 1".
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont
from torchvision.utils import make_grid

from zsk.core.build.model import GAN
from zsk.core.components.zsl_data import ZslData
from zsk.core.data.images import decode
from zsk.core.data.loader import to_unit_range
from zsk.core.evaluate.inference import DEFAULT_BATCH, head, imagine, to_uint8
from zsk.core.storage.files import image_format, writing
from zsk.registry import UserError


def _normal(name: str) -> str:
    return name.strip().lower().replace(" ", "+").replace("_", "+")


def lookup(name: str, options: list[str], what: str, where: str) -> int:
    """Index of ``name`` in ``options`` ("grizzly bear" finds "grizzly+bear"), or a UserError."""
    normal = [_normal(o) for o in options]
    if _normal(name) in normal:
        return normal.index(_normal(name))
    close = difflib.get_close_matches(_normal(name), normal, n=3, cutoff=0.6)
    suggestion = f" Did you mean {' or '.join(repr(options[normal.index(c)]) for c in close)}?"
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    raise UserError(
        f"unknown {what} '{name}'." + (suggestion if close else ""),
        where=where,
        hint=f"the {what}{'es' if what.endswith('s') else 's'} of this data set: {shown}",
    )


def parse_edits(text: str, predicates: list[str]) -> dict[int, float]:
    """``"stripes=1,water=0"`` as {predicate index: value}."""
    edits: dict[int, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise UserError(
                f"'{item}' is not NAME=VALUE", where="--attributes", hint="e.g. stripes=1,water=0"
            )
        index = lookup(name, predicates, "predicate", "--attributes")
        try:
            edits[index] = float(value)
        except ValueError:
            edits[index] = math.nan
        if not math.isfinite(edits[index]):
            raise UserError(
                f"value '{value.strip()}' of predicate '{name.strip()}' is not a finite number",
                where="--attributes",
                hint="e.g. stripes=1,water=0",
            )
    if not edits:
        raise UserError("no NAME=VALUE pairs given", where="--attributes", hint="e.g. stripes=1")
    return edits


def attribute_rows(
    data: ZslData, class_names: list[str], edits: str | None, where: str = "--class"
) -> tuple[torch.Tensor, list[str]]:
    """Attribute rows to draw and a caption per row.

    Each named class gives its row (edited by ``edits`` when given); with no class, ``edits``
    applies to a row of zeros.
    """
    if not class_names and edits is None:
        raise UserError("name a class or give attributes", hint="use --class NAME or --attributes")
    parsed = parse_edits(edits, data.predicates) if edits is not None else {}
    starts = [lookup(name, data.classes, "class", where) for name in class_names]
    base = data.attributes.to(torch.float32)
    rows = [base[i].clone() for i in starts] or [torch.zeros(data.num_attributes)]
    captions = [data.classes[i] for i in starts] or ["zeros"]
    for row in rows:
        for index, value in parsed.items():
            row[index] = value
    if parsed:
        change = ",".join(f"{data.predicates[i]}={v:g}" for i, v in parsed.items())
        captions = [f"{c} {change}" for c in captions]
    return torch.stack(rows), captions


def source_images(data: ZslData, count: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` random readable seen-class training images, uint8 (count, 3, S, S)."""
    order = torch.randperm(len(data.train), generator=generator).tolist()
    found = []
    for index in order:
        pixels = decode(data.train[index].path, size)
        if pixels is not None:
            found.append(torch.from_numpy(pixels.copy()).permute(2, 0, 1))
        if len(found) == count:
            return torch.stack(found)
    raise UserError(
        f"fewer than {count} readable training images to translate from",
        hint="check the data directory with `zsk data check DIR`",
    )


def generate_images(
    gan: GAN,
    data: ZslData,
    rows: torch.Tensor,
    per_row: int,
    seed: int,
    device: torch.device,
) -> torch.Tensor:
    """``per_row`` images of each attribute row, uint8 (rows × per_row, 3, S, S), row-major.

    A generator that needs a source translates the same ``per_row`` random training images for
    every row, so a column shows one source image across the rows.
    """
    gan.to(device)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    sources = None
    if gan.generator.source_images == "required":
        sources = source_images(data, per_row, gan.dims.image_size, generator).repeat(
            len(rows), 1, 1, 1
        )
    attributes = rows.repeat_interleave(per_row, dim=0)
    return imagine(gan, attributes, device, DEFAULT_BATCH, sources)


MAX_CAPTION = 48


def save_grid(
    images: torch.Tensor, per_row: int, path: Path, captions: list[str] | None = None
) -> Path:
    """Save uint8 images as a grid of ``per_row`` columns, with a caption left of each row."""
    grid = make_grid(images, nrow=per_row, padding=2, pad_value=255)
    picture = Image.fromarray(grid.permute(1, 2, 0).numpy())
    if captions:
        font = ImageFont.load_default()
        captions = [c[:MAX_CAPTION] for c in captions]
        width = 8 + int(max(ImageDraw.Draw(picture).textlength(c, font=font) for c in captions))
        row_height = (grid.shape[1] - 2) // len(captions)
        canvas = Image.new("RGB", (picture.width + width, picture.height), "white")
        canvas.paste(picture, (width, 0))
        draw = ImageDraw.Draw(canvas)
        for index, caption in enumerate(captions):
            y = 2 + index * row_height + row_height // 2 - 6
            draw.text((4, y), caption, fill="black", font=font)
        picture = canvas
    image_format(path)
    with writing(path) as temporary:
        picture.save(temporary)
    return path


def read_image(path: Path, size: int) -> torch.Tensor:
    """The image at ``path`` as uint8 (1, 3, S, S), or a UserError when it cannot be read."""
    if not path.is_file():
        raise UserError(f"no such image file: {path}", where="IMAGE")
    pixels = decode(path, size)
    if pixels is None:
        raise UserError(
            f"cannot read {path} as an image (empty, truncated or not an image)",
            where="IMAGE",
            hint="give a JPEG, PNG or other image file Pillow can open",
        )
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None]


def refuse_features(gan: GAN, command: str) -> None:
    """Refuse a picture command for a run over feature vectors: it has no pictures to draw."""
    if gan.dims.feature_dim:
        raise UserError(
            f"this run learns {gan.dims.feature_dim}-d feature vectors (a feature data set), "
            f"not images: `zsk {command}` draws pictures and does not apply to it",
            where="data",
            hint="evaluate a feature run with `zsk eval` (and `zsk report`); pictures need an "
            "image run",
        )


def refuse_non_translating(gan: GAN) -> None:
    if gan.generator.source_images == "unused":
        raise UserError(
            f"this run's generator '{gan.generator.name}' draws images from noise and attributes; "
            "it cannot translate an image",
            where="model.generator",
            hint="use `zsk generate` for it, or train a translating generator (encoder_decoder)",
        )


@torch.no_grad()
def translate_image(
    gan: GAN, image: torch.Tensor, target: torch.Tensor, seed: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(reconstruction G(D_enc(x)) or None without that head, translation G(x, target)), uint8."""
    refuse_non_translating(gan)
    gan.to(device)
    torch.manual_seed(seed)
    x = to_unit_range(image.to(device))
    translation = to_uint8(gan.generator(target[None].to(device, torch.float32), images=x))
    reconstruction = None
    if "reconstruction_feature" in gan.discriminator.heads:
        features = head(gan, "reconstruction_feature")(gan.discriminator.trunk(x))
        reconstruction = to_uint8(gan.generator.decode_features(features))
    return reconstruction, translation
