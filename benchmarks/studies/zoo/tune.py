"""Training settings of the recommended spec, compared on validation data only.

    python -m benchmarks.studies.zoo.tune OUT_DIR [--sets glyphs textures scenes]
        [--cpu-minutes 0.4] [--variants NAME ...] [--seeds 0 ...] [--recognition-only]
    python -m benchmarks.studies.zoo.tune --table OUT_DIR/results.jsonl   # the Markdown table

For each set, ``zsk init --route image-gan`` writes the image GAN's spec (``--route no-gan``
the recogniser's, for :data:`RECOGNISER_VARIANTS`); each variant edits it (optimiser, trunk
normalisation, loss terms, conditional real/fake head, ...) and is trained as a validation run
(the spec's ``validation_run`` settings as ``holdout``) at the same FLOP-sized length.
``benchmarks.studies.validation_quality`` then measures it from validation data only: held-out
ZSL, validation H and (image GAN variants) the attribute accuracy of images imagined for the
held-out classes. No test image is read. One record per set, budget, seed and variant in
``OUT_DIR/results.jsonl``; a finished one is kept.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import yaml

from benchmarks.studies.results import (
    RESULTS,
    find,
    mean_spread,
    put,
    read,
    study_arguments,
    tabled,
)
from benchmarks.studies.validation_quality import measure, recognition
from benchmarks.studies.zoo.run import ZSK, run_logged
from benchmarks.studies.zoo.sets import write_set
from zsk.core.evaluate.trained import load_trained

Edit = Callable[[dict], None]
#: The fields that name one validation run in the results file.
KEY = ("set", "variant", "cpu_minutes", "seed")


def _d_adam(spec: dict) -> None:
    """D (and ψ) with the recognition learner's Adam: lr 1e-3, β1 0.9."""
    spec["train"]["optimizers"]["discriminator"] = {"lr": 1.0e-3, "betas": [0.9, 0.999]}


def _bn_trunk(spec: dict) -> None:
    """Batch norm in every trunk block, no spectral norm in the trunk or the recognition
    heads; the real/fake head keeps its spectral norm."""
    trunk = spec["model"]["trunk"]["params"]
    trunk |= {"weight_norm": {"type": "none"}, "feature_norm": {"type": "batch"}, "norm_from": 0}
    for role in ("attribute", "embedding", "reconstruction_feature"):
        head = spec["model"]["heads"][role]
        head["params"] = {**head.get("params", {}), "weight_norm": {"type": "none"}}


def _no_instance_norm(spec: dict) -> None:
    """No feature norm in the trunk: instance norm takes away each image's own mean and scale
    per channel, which is what colour, brightness and background predicates describe."""
    spec["model"]["trunk"]["params"]["feature_norm"] = {"type": "none"}


def _sagan_trunk(spec: dict) -> None:
    """The trunk's own defaults back: dropout 0.25 and self-attention after its last two
    blocks."""
    params = spec["model"]["trunk"]["params"]
    spec["model"]["trunk"]["params"] = {"channels": params["channels"]}


def _no_cosine_softmax(spec: dict) -> None:
    """Without the softmax over every seen class's cosine (D's ``cosine_softmax`` term)."""
    _no_term(spec, "cosine_softmax")


def _no_gan(spec: dict) -> None:
    objective = spec["objective"]
    objective["discriminator"] = [t for t in objective["discriminator"] if t["type"] != "lsgan"]
    objective["generator"] = []


def _no_attribute_term(spec: dict) -> None:
    """Without D's attribute term and the head it trains."""
    _no_term(spec, "attribute")
    del spec["model"]["heads"]["attribute"]


def _no_seen_classifier(spec: dict) -> None:
    """Without ``cosine_real``'s seen-class softmax (λ2) and the classifier it trains."""
    for term in spec["objective"]["discriminator"]:
        if term["type"] == "cosine_real":
            term["params"]["lambda_softmax"] = 0.0
    spec["model"]["heads"]["embedding"]["params"]["classifier"] = False


def _no_term(spec: dict, kind: str) -> None:
    terms = spec["objective"]["discriminator"]
    spec["objective"]["discriminator"] = [t for t in terms if t["type"] != kind]


def _decay_from(share: float) -> Edit:
    """The learning rate held for ``share`` of the run's epochs, then taken linearly to 0 by
    its end (the run's and its validation run's epochs alike)."""

    def edit(spec: dict) -> None:
        epochs = spec["train"]["epochs"]
        constant = int(epochs * share)
        schedule = {"type": "constant_then_linear", "constant": constant, "unit": "epochs"}
        spec["train"]["schedule"] = schedule | {"decay": epochs - constant}

    return edit


def _constant_rate(spec: dict) -> None:
    """The learning rate held from the first step to the last."""
    spec["train"]["schedule"] = {"type": "constant"}


def _translate(share: float) -> Edit:
    """Real images shifted at random by up to ``share`` of their side (``train.translate``)."""

    def edit(spec: dict) -> None:
        spec["train"]["translate"] = share

    return edit


def _head(kind: str) -> Edit:
    def edit(spec: dict) -> None:
        spec["model"]["heads"]["real_fake"] = {"type": kind}

    return edit


PLAIN_COSINE = [_no_cosine_softmax, _sagan_trunk]
#: name -> edits applied in order to zsk init's spec (its length left as init sized it).
VARIANTS: dict[str, list[Edit]] = {
    "default": [],
    "default with attention and dropout": [_sagan_trunk],
    "no cosine_softmax, attention and dropout": PLAIN_COSINE,
    "no cosine_softmax, attention and dropout, D Adam 1e-3": [*PLAIN_COSINE, _d_adam],
    "no cosine_softmax, attention and dropout, D Adam 1e-3, BN trunk": [
        *PLAIN_COSINE,
        _d_adam,
        _bn_trunk,
    ],
    "no cosine_softmax, D Adam 1e-3, BN trunk": [_no_cosine_softmax, _d_adam, _bn_trunk],
    "trunk without instance norm": [_no_instance_norm],
    "no GAN": [_no_gan],
    "no GAN, trunk without instance norm": [_no_instance_norm, _no_gan],
    "no GAN with attention and dropout": [_sagan_trunk, _no_gan],
    "no GAN, no cosine_softmax, attention and dropout": [*PLAIN_COSINE, _no_gan],
    "projection head": [_head("projection")],
    "acgan head": [_head("acgan")],
    "contrastive head": [_head("contrastive")],
}
#: Variants of the recogniser (``--route no-gan``'s spec).
RECOGNISER_VARIANTS: dict[str, list[Edit]] = {
    "recogniser": [],
    "recogniser without the attribute term": [_no_attribute_term],
    "recogniser without the seen-class classifier": [_no_seen_classifier],
    "recogniser with the hand-written learner's terms": [_no_attribute_term, _no_seen_classifier],
    "recogniser, constant learning rate": [_constant_rate],
    # the same as "recogniser" now that zsk init decays; kept because committed results name it
    "recogniser, learning rate decayed linearly to 0": [_decay_from(0.0)],
    "recogniser, learning rate held for half the run, then decayed to 0": [_decay_from(0.5)],
    "recogniser, images not shifted": [_translate(0.0)],
    "recogniser, images shifted by up to 1/16 of their side": [_translate(1 / 16)],
    "recogniser, images shifted by up to 1/8 of their side": [_translate(1 / 8)],
}
VARIANTS |= RECOGNISER_VARIANTS


def slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-")


def edited_spec(spec: dict, label: str) -> dict:
    """A copy of ``spec`` edited by variant ``label``."""
    edited = copy.deepcopy(spec)
    for edit in VARIANTS[label]:
        edit(edited)
    return edited


def variant_spec(spec: dict, label: str) -> dict:
    """``spec`` edited by variant ``label`` and turned into a validation run."""
    edited = edited_spec(spec, label)
    edited["holdout"] = edited.pop("validation_run")
    return edited


def route_of(label: str) -> str:
    """The ``zsk init`` route whose spec variant ``label`` edits."""
    return "no-gan" if label in RECOGNISER_VARIANTS else "image-gan"


def table(path: Path) -> str:
    """Every measured variant of the results file ``path``: held-out ZSL / validation H /
    imagined held-out attribute accuracy per set and budget, each the mean ± std over the
    seeds measured (:func:`mean_spread`), variants in :data:`VARIANTS` order ("—" for the
    imagined images of runs whose generator never trained)."""
    found: dict[tuple[str, str], list[dict]] = {}
    for record in read(path):
        column = f"{record['set']} {record['cpu_minutes']:g} min"
        found.setdefault((record["variant"], column), []).append(record)
    columns = sorted({column for _, column in found})
    lines = ["| variant | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for label in VARIANTS:
        cells = [_cell(found.get((label, column), []), label) for column in columns]
        if any(c != "—" for c in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(records: list[dict], label: str) -> str:
    if not records:
        return "—"
    trains_generator = route_of(label) == "image-gan" and "no GAN" not in label
    judged = [r["imagined"] for r in records if r["imagined"] is not None and trains_generator]
    imagined = mean_spread(judged) if judged else "—"
    zsl = mean_spread([r["held_out_zsl"] for r in records])
    return f"{zsl} / {mean_spread([r['validation_h'] for r in records])} / {imagined}"


def main(argv: list[str] | None = None) -> None:
    parser = study_arguments(__doc__)
    parser.add_argument("--sets", nargs="*", default=["glyphs", "textures", "scenes"])
    parser.add_argument("--variants", nargs="*", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--cpu-minutes", type=float, default=0.4)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument(
        "--recognition-only",
        action="store_true",
        help="held-out ZSL and validation H only: no judge of imagined images (much cheaper)",
    )
    args = parser.parse_args(argv)
    if tabled(args, table):
        return
    for seed in args.seeds:
        for name in args.sets:
            _study_set(args, name, seed)


def _study_set(args, name: str, seed: int) -> None:
    """Train and measure every variant of ``args`` on set ``name`` with ``seed``."""
    results = args.out / RESULTS
    data = write_set(name, args.out / "data")
    work = args.out / "tune" / name / f"{args.cpu_minutes:g}min-s{seed}"
    work.mkdir(parents=True, exist_ok=True)
    specs: dict[str, dict] = {}
    for label in args.variants:
        key = {"set": name, "variant": label, "cpu_minutes": args.cpu_minutes}
        if find(read(results), **key, seed=seed):
            continue
        route = route_of(label)
        if route not in specs:
            base = work / f"init-{route}.yaml"
            init = [*ZSK, "init", str(data), "--out", str(base), "--force", "--seed", str(seed)]
            init += ["--route", route, "--cpu-minutes", str(args.cpu_minutes)]
            run_logged(init, work / "log")
            specs[route] = yaml.safe_load(base.read_text())
        path, run_dir = work / f"{slug(label)}.yaml", work / slug(label)
        path.write_text(yaml.safe_dump(variant_spec(specs[route], label), sort_keys=False))
        run_logged([*ZSK, "build", str(path), "--out", str(run_dir), "--force"], work / "log")
        cpu = run_logged([*ZSK, "train", str(run_dir), "--device", "cpu"], work / "log")
        if args.recognition_only or route == "no-gan":
            zsl, h = recognition(load_trained(run_dir))
            quality = {"held_out_zsl": zsl, "validation_h": h, "imagined": None}
        else:
            quality = vars(measure(run_dir, per_class=32, probe_steps=500))
        record = {**key, "seed": seed, "train_cpu_seconds": cpu, **quality}
        put(results, record, KEY)
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
