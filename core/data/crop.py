"""The report's preprocessing: crop every image to its main animal, found by COCO Mask R-CNN.

torchvision's Mask R-CNN (ResNet-50 FPN, COCO) detects objects; the main object is the largest
confident detection of a COCO animal (bird … giraffe), else the largest confident detection of
anything (AwA2 has animals COCO lacks, such as seals or bats, which it names otherwise); the crop
is a square around it with a margin, kept inside the image. Without a confident detection the
image is centre-cropped to its largest square. The result is a new data set in the same layout.

Weights are never downloaded: they come from ``--weights PATH`` (torchvision's ``.pth``, read
with ``torch.load(weights_only=True)``, which loads tensors only and never runs code, or a
``.safetensors`` file) or from the torch hub cache when a file is already there.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torchvision.models.detection import MaskRCNN, maskrcnn_resnet50_fpn
from torchvision.transforms.functional import pil_to_tensor

from zsk.core.data.images import is_image_file, open_rgb
from zsk.core.data.prepared import PREPARED_DIR
from zsk.core.data.progress import progress_bar, report_skipped
from zsk.core.storage.files import writing
from zsk.registry import UserError

WEIGHTS_URL = "https://download.pytorch.org/models/maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth"
WEIGHTS_FILE = WEIGHTS_URL.rsplit("/", 1)[1]
#: COCO category ids of animals: bird, cat, dog, horse, sheep, cow, elephant, bear, zebra, giraffe.
COCO_ANIMALS = frozenset(range(16, 26))

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    box: Box  # x0, y0, x1, y1 in pixels
    label: int  # COCO category id
    score: float


def main_object(detections: Sequence[Detection], min_score: float) -> Detection | None:
    """The largest confident animal, else the largest confident detection, else None."""
    confident = [d for d in detections if d.score >= min_score]
    animals = [d for d in confident if d.label in COCO_ANIMALS]
    pool = animals or confident
    if not pool:
        return None
    return max(pool, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))


def crop_box(width: int, height: int, box: Box | None, margin: float) -> tuple[int, int, int, int]:
    """A square around ``box`` grown by ``margin`` of its longer side on every side, shifted to
    lie inside the image (and cut to it where it is larger); the centre square without a box."""
    if box is None:
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return left, top, left + side, top + side
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    w, h = min(side, width), min(side, height)
    left = min(max((x0 + x1) / 2 - w / 2, 0), width - w)
    top = min(max((y0 + y1) / 2 - h / 2, 0), height - h)
    right, bottom = round(left + w), round(top + h)
    left, top = round(left), round(top)
    return left, top, max(right, left + 1), max(bottom, top + 1)


def find_weights(explicit: Path | None) -> Path:
    """The weights file: ``explicit`` if given, else torchvision's file in the torch hub cache."""
    cached = Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE
    if explicit is not None:
        if explicit.is_file():
            return explicit
        raise UserError("Mask R-CNN weights file not found", where=str(explicit))
    if cached.is_file():
        return cached
    raise UserError(
        "Mask R-CNN weights are needed and zsk never downloads them",
        hint=f"download {WEIGHTS_URL} and pass --weights PATH, or put the file at {cached}",
    )


def build_detector(weights: Path | None, *, min_size: int = 800, **options: int) -> MaskRCNN:
    """Mask R-CNN ResNet-50 FPN for COCO's 91 categories; random weights when ``weights`` is None
    (for tests). ``min_size``: the side images are scaled to before detection; ``options``:
    further torchvision ``MaskRCNN`` settings (e.g. ``rpn_post_nms_top_n_test``)."""
    model = maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=91, min_size=min_size, **options
    )
    if weights is not None:
        state = _read_weights(weights)
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError, ValueError) as exc:
            raise UserError(
                "not Mask R-CNN ResNet-50 FPN COCO weights",
                where=str(weights),
                hint=f"use {WEIGHTS_FILE} from {WEIGHTS_URL}",
            ) from exc
    return model.eval()


def _read_weights(path: Path) -> dict:
    """A state dict of tensors from ``path`` (safetensors, or torch's ``.pth`` read without
    running code); anything else is refused naming the file."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch and safetensors raise many kinds for a bad file
        raise UserError(f"cannot read weights: {exc}", where=str(path)) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise UserError(
            f"holds a {type(state).__name__}, not a state dict of named tensors",
            where=str(path),
            hint=f"use {WEIGHTS_FILE} from {WEIGHTS_URL}",
        )
    return state


@torch.inference_mode()
def detect(
    model: MaskRCNN, images: list[Image.Image], device: torch.device
) -> list[list[Detection]]:
    inputs = [pil_to_tensor(im).to(device, torch.float32).div_(255) for im in images]
    outputs = model(inputs)
    return [
        [
            Detection(tuple(box.tolist()), int(label), float(score))
            for box, label, score in zip(out["boxes"], out["labels"], out["scores"], strict=True)
        ]
        for out in outputs
    ]


@dataclass(frozen=True)
class CropResult:
    written: int
    centred: int
    skipped: list[Path]


def crop_dataset(
    src: Path,
    out: Path,
    model: MaskRCNN,
    *,
    device: str = "cpu",
    margin: float = 0.1,
    min_score: float = 0.5,
    batch_size: int = 4,
    progress: bool = False,
) -> CropResult:
    """Write ``src`` to ``out`` with every image cropped; the other files are copied."""
    src, out = src.resolve(), out.resolve()
    if out == src or src in out.parents:
        raise UserError("the output folder must lie outside the source", where=str(out))
    files = sorted(p for p in src.rglob("*") if p.is_file() and PREPARED_DIR not in p.parts)
    images = [p for p in files if is_image_file(p)]
    for path in files:
        if not is_image_file(path):
            with writing(out / path.relative_to(src), durable=False) as temporary:
                shutil.copy2(path, temporary)
    model = model.to(device)
    skipped: list[Path] = []
    written = centred = 0
    with progress_bar(len(images), "cropping", progress) as advance:
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            opened = [(p, open_rgb(p)) for p in batch]
            skipped += [p for p, im in opened if im is None]
            readable = [(p, im) for p, im in opened if im is not None]
            found = (
                detect(model, [im for _, im in readable], torch.device(device)) if readable else []
            )
            for (path, image), detections in zip(readable, found, strict=True):
                best = main_object(detections, min_score)
                centred += best is None
                box = crop_box(image.width, image.height, best.box if best else None, margin)
                fmt = Image.registered_extensions()[path.suffix.lower()]
                options = {"quality": 95} if fmt == "JPEG" else {}
                with writing(out / path.relative_to(src), durable=False) as temporary:
                    image.crop(box).save(temporary, format=fmt, **options)
                written += 1
            for _ in batch:
                advance()
    report_skipped(skipped, len(images), "images")
    return CropResult(written, centred, skipped)
