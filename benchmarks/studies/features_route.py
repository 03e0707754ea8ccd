"""The feature route against the image routes and a ridge baseline (BENCHMARKS.md §7).

    python -m benchmarks.studies.features_route OUT [--sets shapes glyphs textures] [--seeds 0 1]
    python -m benchmarks.studies.features_route --table OUT/results.jsonl   # the Markdown table
    python -m benchmarks.studies.features_route OUT2 --layer trunk --images-from OUT


For every set and training seed, on one split:

1. *image run*: ``zsk init DATA --cpu-minutes M`` (the recommended GAN spec with its validation
   run), ``zsk build``, ``zsk train``, ``zsk eval``: the embedding route (nearest class
   embedding) and the image-generative route (a classifier on imagined images);
2. *features*: ``zsk data features DATA --run RUN --layer LAYER`` (the embedding φ(x) or the
   trained trunk's pooled features of every image) and the same from the image run's validation
   run, whose networks never saw the held-out classes;
3. *feature route*: an f-CLSWGAN-style feature GAN (:data:`FEATURE_MODEL`, settings fixed
   beforehand: the published CUB settings at a smaller hidden width, not tuned) on the run's
   features, and its validation run on the validation trunk's features holding out the same
   classes; ``zsk eval --calibrate-with`` that validation run (which also chooses the number of
   generated features per class and the classifier's epochs);
4. *ridge*: ridge regression from the same features to class attributes, classes scored by
   cosine; λ and the GZSL constant chosen on the validation trunk's features of the held-out
   classes (validation H), never on test features.

Every command is a child process on one thread; CPU seconds are the children's user + system
time. A finished (set, seed) record is kept in ``OUT/results.jsonl``, so a stopped benchmark
continues where it was. ``--images-from`` an earlier OUT reuses its image runs and their
results (step 1), so feature layers are compared on the same image runs.
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import torch
import yaml

from benchmarks.studies.results import (
    RESULTS,
    RouteNumbers,
    find,
    finished,
    put,
    read,
    routes_table,
    study_arguments,
    tabled,
)
from benchmarks.studies.zoo.run import ZSK, run_logged, run_zsk, study_record
from benchmarks.studies.zoo.sets import write_set
from zsk.core.components.zsl_data import ZslData
from zsk.core.data.feature_folder import read_feature_folder
from zsk.core.data.holdout import apply_holdout
from zsk.core.evaluate.protocol import calibrate, calibrated_gzsl, zsl_top1
from zsk.core.spec.loading import load_spec
from zsk.core.storage.files import write_file

SETS = ("shapes", "glyphs", "textures")
#: The feature GAN: f-CLSWGAN's networks (MLP generator, critic on [x, a]), WGAN-GP λ 10,
#: β 0.01, 5 critic steps, batch 64, Adam lr 1e-4 β1 0.5 (its CUB settings), hidden 1024
#: instead of 4096 for features of a few hundred dimensions. ``hidden`` is the critic's hidden
#: width, ``generator_hidden`` the generator's hidden layers.
FEATURE_MODEL = {
    "hidden": 1024,
    "generator_hidden": [1024],
    "n_critic": 5,
    "steps": 1000,
    "lr": 1e-4,
    "beta": 0.01,
}
LAMBDAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def data_for(name: str, out: Path) -> Path:
    """The embedded shapes data set (``zsk data synth``'s defaults) or a zoo set."""
    if name == "shapes":
        folder = out / "shapes"
        if not (folder / "classes.txt").is_file():
            out.mkdir(parents=True, exist_ok=True)
            run_logged([*ZSK, "data", "synth", str(folder)], out / "shapes.log")
        return folder
    return write_set(name, out)


def extract(data: Path, run: Path, out: Path, log: Path, layer: str) -> float:
    command = [*ZSK, "data", "features", str(data), "--run", str(run), "--out", str(out)]
    return run_logged([*command, "--layer", layer, "--force"], log)


def feature_spec(folder: Path, seed: int, model: dict = FEATURE_MODEL) -> dict:
    """The feature GAN's spec at ``model``'s settings (as :data:`FEATURE_MODEL`) over the
    feature folder (sizes from its data)."""
    data = read_feature_folder(folder)
    train = data.features[[s.row for s in data.train]]
    hidden = [model["hidden"]]
    optimiser = {"lr": model["lr"], "betas": [0.5, 0.999]}
    return {
        "name": "features",
        "data": {"type": "feature_folder", "params": {"root": str(folder)}},
        "model": {
            "noise_dim": data.num_attributes,
            "embedding_dim": 8,
            # a trunk whose last activation is a LeakyReLU gives some negative features
            "generator": {
                "type": "feature_mlp",
                "params": {
                    "hidden": model["generator_hidden"],
                    "output": "relu" if train.min() >= 0 else "linear",
                },
            },
            "trunk": {"type": "feature_mlp", "params": {"hidden": []}},
            "heads": {"real_fake": {"type": "concat_critic", "params": {"hidden": hidden}}},
            "semantic_encoder": {"type": "linear"},
        },
        "objective": {
            "discriminator": [{"type": "wgan_gp", "params": {"lambda_gp": 10.0}}],
            "generator": [
                {"type": "wgan_gp"},
                {"type": "pretrained_classifier", "weight": model["beta"]},
            ],
        },
        "train": {
            "batch_size": 64,
            "n_critic": model["n_critic"],
            "steps": model["steps"],
            "negative_fraction": 0.0,
            "hflip": False,
            "optimizers": {"generator": optimiser, "discriminator": optimiser},
            "seed": seed,
            "log_every": 100,
            "checkpoint_every": model["steps"],
        },
    }


def feature_route(
    work: Path, seed: int, holdout: dict, model: dict = FEATURE_MODEL, name: str = "feature"
) -> dict:
    """The feature GAN at ``model``'s settings on the run's features (``work/features``) and its
    validation run on the validation run's (``work/features-val``, ``holdout``'s classes held
    out), built, trained and evaluated calibrated on that validation run, in ``work/NAME-run``
    and ``work/NAME-validation``: the CPU seconds of training (both) and of evaluation, and the
    evaluation's record."""
    log, cpu = work / f"{name}.log", 0.0
    run, validation = work / f"{name}-run", work / f"{name}-validation"
    for out, features in ((run, work / "features"), (validation, work / "features-val")):
        spec = out.with_suffix(".yaml")
        write_file(spec, yaml.safe_dump(feature_spec(features, seed, model)))
        extra = ["--set", f"holdout={json.dumps(holdout)}"] if out == validation else []
        run_logged([*ZSK, "build", str(spec), "--out", str(out), "--force", *extra], log)
        cpu += run_logged([*ZSK, "train", str(out), "--device", "cpu"], log)
    command = [*ZSK, "eval", str(run), "--calibrate-with", str(validation), "--device", "cpu"]
    evaluation = run_logged([*command, "--probe-steps", "400"], log)
    result = study_record(json.loads((run / "eval.json").read_text()))
    return {"train_cpu_seconds": cpu, "eval_cpu_seconds": evaluation, "eval": result}


def _ridge(x: torch.Tensor, targets: torch.Tensor, lam: float):
    """Ridge from features to attributes with an intercept; λ scaled by the mean feature power."""
    mean_x, mean_t = x.mean(0), targets.mean(0)
    xc = (x - mean_x).double()
    scale = float((xc**2).sum(1).mean())
    gram = xc.T @ xc + lam * scale * torch.eye(x.shape[1], dtype=torch.float64)
    weights = torch.linalg.solve(gram, xc.T @ (targets - mean_t).double()).float()
    return lambda z: torch.nn.functional.normalize((z - mean_x) @ weights + mean_t, dim=1)


def _scores(predict, features: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    return predict(features) @ torch.nn.functional.normalize(attributes, dim=1).T


def _rows(data, samples) -> tuple[torch.Tensor, torch.Tensor]:
    rows = torch.tensor([s.row for s in samples])
    return data.features[rows], torch.tensor([s.label for s in samples])


def ridge(work: Path, holdout: dict) -> dict:
    """λ and the constant chosen on the validation features' held-out classes, then test."""
    start = _cpu()
    full = read_feature_folder(work / "features-val")
    val = apply_holdout(full, holdout["classes"], holdout["images"], holdout["seed"])
    result = ridge_baseline(val, read_feature_folder(work / "features"))
    return result | {"cpu_seconds": _cpu() - start}


def ridge_baseline(val: ZslData, data: ZslData) -> dict:
    """Ridge from features to attributes: λ and the GZSL constant chosen on ``val`` (a
    validation run's data: its held-out classes and images), then fitted and tested on
    ``data``."""
    attributes = val.attributes.float()
    fit_x, fit_y = _rows(val, val.train)
    held = val.holdout
    val_x, val_y = _rows(val, held.seen_images + held.unseen_images)
    tried = []
    for lam in LAMBDAS:
        predict = _ridge(fit_x, attributes[fit_y], lam)
        scores = _scores(predict, val_x, attributes)
        calibration = calibrate(scores, val_y, val.seen, held.classes)
        tried.append((calibration.h, lam, calibration))
    val_h, lam, calibration = max(tried, key=lambda t: t[0])
    train_x, train_y = _rows(data, data.train)
    test_x, test_y = _rows(data, data.test_seen + data.test_unseen)
    scores = _scores(_ridge(train_x, attributes[train_y], lam), test_x, attributes)
    unseen = torch.isin(test_y, torch.tensor(data.unseen))
    source = "the validation split's held-out classes"
    gzsl = calibrated_gzsl(calibration, scores, test_y, data.seen, data.unseen, source)
    return {
        "zsl_top1": zsl_top1(scores[unseen], test_y[unseen], data.unseen),
        "gzsl": gzsl.model_dump(),
        "lambda": lam,
        "val_h": val_h,
    }


def run_one(
    name: str, seed: int, out: Path, cpu_minutes: float, layer: str, images_from: Path | None
) -> dict:
    work = out / "runs" / f"{name}-s{seed}"
    work.mkdir(parents=True, exist_ok=True)
    if images_from is None:
        data = data_for(name, out / "data")
        image, image_work = run_zsk(data, work, "image", seed, cpu_minutes), work
    else:  # the earlier OUT's image run (bit-for-bit the same one) and its recorded results
        data = data_for(name, images_from / "data")
        image_work = images_from / "runs" / work.name
        earlier = find(read(images_from / RESULTS), set=name, seed=seed)
        if earlier is None:
            raise SystemExit(f"{images_from / RESULTS} has no {name} seed {seed}")
        image = earlier["image"]
    holdout_spec = load_spec(image_work / "image.yaml").validation_run
    holdout = holdout_spec.model_dump(mode="json")
    log, run = work / "extract.log", image_work / "image"
    extract_cpu = extract(data, run, work / "features", log, layer)
    extract_cpu += extract(data, run / "validation", work / "features-val", log, layer)
    return {
        "image": image,
        "extract_cpu_seconds": extract_cpu,
        "features": feature_route(work, seed, holdout),
        "ridge": ridge(work, holdout),
    }


def table(path: Path) -> str:
    """Mean ± std over seeds of every route, per set, from the results file ``path``."""
    layer = {"trunk": "trunk features", "embedding": "embeddings φ(x)"}
    routes = {
        "feature GAN on the image run's {}": lambda r: (
            r["features"]["eval"]["generative"],
            r["features"]["train_cpu_seconds"] + r["features"]["eval_cpu_seconds"],
        ),
        "image GAN, generative (imagined images)": lambda r: (
            r["image"]["eval"]["generative"],
            r["image"]["train_cpu_seconds"] + r["image"]["eval_cpu_seconds"],
        ),
        "image GAN, embedding (nearest class embedding)": lambda r: (
            {"zsl_top1": r["image"]["eval"]["zsl_top1"], "gzsl": r["image"]["eval"]["gzsl"]},
            r["image"]["train_cpu_seconds"] + r["image"]["eval_cpu_seconds"],
        ),
        "ridge, {} → attributes": lambda r: (r["ridge"], r["ridge"]["cpu_seconds"]),
    }
    cells: dict[tuple[str, str], list[RouteNumbers]] = {}
    for record in read(path):
        source = layer[record.get("layer", "trunk")]
        for route, pick in routes.items():
            numbers, cpu = pick(record)
            runs = cells.setdefault((record["set"], route.format(source)), [])
            runs.append((numbers["zsl_top1"], numbers["gzsl"]["h"], cpu))
    return routes_table(cells, "GZSL H (calibrated on validation classes)")


def _claim(marker: Path) -> bool:
    """Whether this process may run the (set, seed) ``marker`` names: several drivers on one
    OUT share the work. A stopped driver's claims are removed by hand to run them again."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = study_arguments(__doc__)
    parser.add_argument("--sets", nargs="*", choices=SETS, default=list(SETS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--cpu-minutes", type=float, default=0.4)
    parser.add_argument("--layer", choices=("trunk", "embedding"), default="embedding")
    parser.add_argument("--images-from", type=Path, help="an earlier OUT whose image runs to reuse")
    args = parser.parse_args(argv)
    if tabled(args, table):
        return
    torch.set_num_threads(1)
    results, claims = args.out / RESULTS, args.out / "claims"
    claims.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for name in args.sets:
            if find(read(results), set=name, seed=seed) or not _claim(claims / f"{name}-s{seed}"):
                continue
            print(f"{time.strftime('%H:%M:%S')} {name} seed {seed}", flush=True)
            record = run_one(name, seed, args.out, args.cpu_minutes, args.layer, args.images_from)
            record |= {
                "set": name,
                "seed": seed,
                "layer": args.layer,
                "feature_model": FEATURE_MODEL,
            }
            put(results, finished(record), ("set", "seed"))


if __name__ == "__main__":
    main()
