"""Which of the GAN's terms help recognition, on validation data only.

    python benchmarks/zoo/ablate.py OUT_DIR [--sets textures scenes synth] [--cpu-minutes 1]

For each set, the recommended spec (``zsk init``) is trained as a validation run (its
``validation_run`` settings as ``holdout``) in several variants: without the GAN, the default,
and the default less one group of terms. benchmarks/validation_quality.py then measures each
from validation data only (held-out ZSL, validation H, imagined held-out attribute accuracy);
no test image is read. One JSON per variant; a finished one is kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

if __package__ in (None, ""):  # run as a script: the benchmarks folder is the import root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from validation_quality import measure

from zoo.run import ZSK, _call
from zoo.sets import write_set


def _without(terms: list[dict], *types: str) -> list[dict]:
    return [t for t in terms if t["type"] not in types]


def variants(spec: dict) -> dict[str, dict]:
    """Spec variants by name: the objective edited, everything else the same."""
    d, g = spec["objective"]["discriminator"], spec["objective"]["generator"]
    cosine_fake = {"type": "cosine_fake"}
    return {
        "no GAN": {"discriminator": _without(d, "lsgan", "attribute"), "generator": []},
        "no GAN, attribute head kept": {"discriminator": _without(d, "lsgan"), "generator": []},
        "default": {"discriminator": d, "generator": g},
        "no attribute terms": {
            "discriminator": _without(d, "attribute"),
            "generator": _without(g, "attribute"),
        },
        "no L1 reconstruction": {"discriminator": d, "generator": _without(g, "l1_reconstruction")},
        "with L_D_fake (cosine_fake)": {"discriminator": [*d, cosine_fake], "generator": g},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sets", nargs="*", default=["textures", "scenes", "synth"])
    parser.add_argument("--cpu-minutes", type=float, default=1.0)
    args = parser.parse_args(argv)
    for name in args.sets:
        data = write_set(name, args.out / "data")
        work = args.out / "ablation" / name
        work.mkdir(parents=True, exist_ok=True)
        base = work / "default.yaml"
        init = [*ZSK, "init", str(data), "--out", str(base), "--force"]
        _call([*init, "--cpu-minutes", str(args.cpu_minutes)], work / "log")
        spec = yaml.safe_load(base.read_text())
        for label, objective in variants(spec).items():
            slug = label.split(" (")[0].replace(" ", "-").lower()
            target = work / f"{slug}.json"
            if target.is_file():
                continue
            edited = {**spec, "objective": objective, "holdout": spec["validation_run"]}
            edited = {k: v for k, v in edited.items() if k != "validation_run"}
            path = work / f"{slug}.yaml"
            path.write_text(yaml.safe_dump(edited, sort_keys=False))
            run_dir = work / slug
            _call([*ZSK, "build", str(path), "--out", str(run_dir), "--force"], work / "log")
            cpu = _call([*ZSK, "train", str(run_dir), "--device", "cpu"], work / "log")
            quality = measure(run_dir, per_class=32, probe_steps=500)
            record = {"set": name, "variant": label, "train_cpu_seconds": cpu, **vars(quality)}
            target.write_text(json.dumps(record, indent=2) + "\n")
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
