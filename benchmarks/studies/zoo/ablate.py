"""Which of the GAN's terms help recognition, on validation data only.

    python -m benchmarks.studies.zoo.ablate OUT_DIR [--sets textures scenes synth] [--cpu-minutes 1]
    python -m benchmarks.studies.zoo.ablate --table OUT_DIR/results.jsonl   # the Markdown table

For each set, the recommended spec (``zsk init``) is trained as a validation run (its
``validation_run`` settings as ``holdout``) in several variants: without the GAN, the default,
and the default less one group of terms. ``benchmarks.studies.validation_quality`` then
measures each from validation data only (held-out ZSL, validation H, imagined held-out
attribute accuracy); no test image is read. One record per set and variant in
``OUT_DIR/results.jsonl``; a finished one is kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from benchmarks.studies import results as study
from benchmarks.studies.validation_quality import measure
from benchmarks.studies.zoo.run import ZSK, run_logged
from benchmarks.studies.zoo.sets import write_set


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


def table(path: Path) -> str:
    """One row per measured set and variant of the results file ``path``."""
    header = (
        "set",
        "variant",
        "held-out ZSL",
        "validation H",
        "imagined attr. acc.",
        "train CPU s",
    )
    rows = []
    for r in study.read(path):
        judged = r["imagined"] is not None and "no GAN" not in r["variant"]
        rows.append(
            (
                r["set"],
                r["variant"],
                f"{r['held_out_zsl']:.3f}",
                f"{r['validation_h']:.3f}",
                f"{r['imagined']:.3f}" if judged else "—",
                f"{r['train_cpu_seconds']:.0f}",
            )  # fmt: skip
        )
    return study.markdown_table(header, rows)


def main(argv: list[str] | None = None) -> None:
    parser = study.study_arguments(__doc__)
    parser.add_argument("--sets", nargs="*", default=["textures", "scenes", "synth"])
    parser.add_argument("--cpu-minutes", type=float, default=1.0)
    args = parser.parse_args(argv)
    if study.tabled(args, table):
        return
    results = args.out / study.RESULTS
    for name in args.sets:
        data = write_set(name, args.out / "data")
        work = args.out / "ablation" / name
        work.mkdir(parents=True, exist_ok=True)
        base = work / "default.yaml"
        init = [*ZSK, "init", str(data), "--out", str(base), "--force"]
        run_logged([*init, "--cpu-minutes", str(args.cpu_minutes)], work / "log")
        spec = yaml.safe_load(base.read_text())
        for label, objective in variants(spec).items():
            slug = label.split(" (")[0].replace(" ", "-").lower()
            if study.find(study.read(results), set=name, variant=label):
                continue
            edited = {**spec, "objective": objective, "holdout": spec["validation_run"]}
            edited = {k: v for k, v in edited.items() if k != "validation_run"}
            path = work / f"{slug}.yaml"
            path.write_text(yaml.safe_dump(edited, sort_keys=False))
            run_dir = work / slug
            run_logged([*ZSK, "build", str(path), "--out", str(run_dir), "--force"], work / "log")
            cpu = run_logged([*ZSK, "train", str(run_dir), "--device", "cpu"], work / "log")
            quality = measure(run_dir, per_class=32, probe_steps=500)
            record = {"set": name, "variant": label, "train_cpu_seconds": cpu, **vars(quality)}
            study.put(results, record, ("set", "variant"))
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
