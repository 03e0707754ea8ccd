"""Feature data on one core: reading the benchmark files, and extracting features from images.

    python -m benchmarks.speed.bench_feature_data            # AwA2's sizes, ResNet-101 (~2 min)
    python -m benchmarks.speed.bench_feature_data --quick    # tiny (what the test suite runs)

Rows (CPU seconds of one thread, median of three):

- read xlsa17: ``zsk.core.data.folder_formats.load_folder`` on synthetic ``res101.mat`` and
  ``att_splits.mat`` of AwA2's sizes (37,300 features of 2,048 dimensions, stored as float64
  as the download does; 50 classes, 85 attributes), every check included; in a fresh process,
  whose peak memory is reported;
- extract: ``zsk data features``' loop (decode, resize, backbone forward, write into the
  memory-mapped file) with timm's ResNet-101 at 224 px (random weights from a local file: the
  cost does not depend on their values), per image.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import timm
import torch
from safetensors.torch import save_file

from benchmarks.speed.common import synth_data
from zsk.core.data.extract import extract
from zsk.core.data.extractors import timm_extractor
from zsk.core.data.folder_formats import load_folder
from zsk.testing.xlsa17 import write_xlsa17

#: AwA2's sizes (37,322 samples; here 50 × 746 = 37,300), with about its test-seen share
AWA2 = {
    "classes": 50,
    "unseen": 10,
    "validation": 13,
    "per_class": 746,
    "test_seen_per_class": 147,
    "attributes": 85,
    "dim": 2048,
}
QUICK = {"classes": 6, "unseen": 2, "validation": 1, "per_class": 20, "attributes": 8, "dim": 16}

READ = """
import json, resource, sys, time
from pathlib import Path
from zsk.core.data.folder_formats import load_folder
start = time.process_time()
name, data = load_folder(Path(sys.argv[1]))
seconds = time.process_time() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mib": peak, "rows": len(data.features)}))
"""


def read_rows(root: Path, repeats: int) -> dict:
    """Median CPU seconds and peak memory of reading ``root`` in a fresh process."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", READ, str(root)], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(out.stdout))
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_mib": max(r["peak_mib"] for r in runs),
        "rows": runs[0]["rows"],
    }


def extract_rate(root: Path, tmp: Path, backbone: str, size: int | None, repeats: int) -> dict:
    """Median CPU milliseconds per image of the extraction loop."""
    torch.manual_seed(0)
    weights = tmp / f"{backbone}.safetensors"
    model = timm.create_model(backbone, pretrained=False)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    fmt, data = load_folder(root)
    extractor = timm_extractor(backbone, weights, size, torch.device("cpu"))
    per_image = []
    for rep in range(repeats):
        out = tmp / f"features-{rep}"
        shutil.rmtree(out, ignore_errors=True)
        start = time.process_time()
        result = extract(data, out, extractor, source_format=fmt, batch_size=32, workers=1)
        per_image.append((time.process_time() - start) / result.count * 1000)
    return {
        "ms_per_image": statistics.median(per_image),
        "images": result.count,
        "size": extractor.image_size,
        "dim": extractor.dim,
    }


def run(quick: bool) -> list[tuple[str, str]]:
    torch.set_num_threads(1)
    repeats = 3
    rows = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        sizes = QUICK if quick else AWA2
        write_xlsa17(tmp / "xlsa17", **sizes)
        read = read_rows(tmp / "xlsa17", repeats)
        rows.append(
            (
                f"read xlsa17, {read['rows']:,} × {sizes['dim']}",
                f"{read['seconds']:.2f} CPU s, peak {read['peak_mib']:,.0f} MiB",
            )
        )
        images = synth_data(tmp / "shapes", images_per_class=1 if quick else 2)
        backbone, size = ("test_resnet", 32) if quick else ("resnet101", None)
        rate = extract_rate(images, tmp, backbone, size, repeats)
        what = f"extract {backbone} {rate['size']} px -> {rate['dim']}-d ({rate['images']} images)"
        rows.append((what, f"{rate['ms_per_image']:.0f} CPU ms per image"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the test suite")
    args = parser.parse_args(argv)
    print(f"{'what':<52}  cost")
    for what, cost in run(args.quick):
        print(f"{what:<52}  {cost}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
