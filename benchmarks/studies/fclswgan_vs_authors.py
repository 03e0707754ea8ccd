"""zsk's f-CLSWGAN example against the authors' released code on the same xlsa17-format files
(BENCHMARKS.md §7).

    python -m benchmarks.studies.fclswgan_vs_authors OUT data [--size small|full]
    python -m benchmarks.studies.fclswgan_vs_authors OUT authors --authors-code DIR [--size ..]
    python -m benchmarks.studies.fclswgan_vs_authors OUT zsk [--size ..] [--seeds 0,1,2]
    python -m benchmarks.studies.fclswgan_vs_authors --table OUT/results.jsonl

``data`` writes an AwA2-like synthetic set (zsk.testing.features: 40 classes, 10 unseen, 8 of
the 30 seen its ``val_loc`` classes, 48 attributes) in the benchmark files' format with zsk's own
writer (zsk.testing.xlsa17), into OUT/data/SIZE/SYN: ``full`` has 2048-d features, ``small``
512-d. Each seen class has 212 trainval features (6,360 in all: exactly 100 generator steps per
epoch of the authors' code at batch 64), 53 seen test features; each unseen class 265.

Both sides train with f-CLSWGAN's published AwA settings (β 0.01, 5 critic steps, λ 10, batch
64, Adam β1 0.5, noise of the attributes' size, MinMax scaling fitted on trainval, 300 generated
features per unseen class), hidden layers of 4096 and AwA's learning rate 1e-5 (``full``) or
1024 and CUB's 1e-4 (``small``, see :data:`SIZES`), and are evaluated at :data:`STEPS`
generator steps of ONE training run per seed:

- ``authors`` runs the release from ``--authors-code DIR`` (``fclswgan_release`` beside this
  module, which patches it in memory for a current torch on the CPU) with ``--gzsl``, recording
  at each step count its ZSL classifier's top-1 and its GZSL classifier's u, s, H, the last of
  their 25 epochs and (as released) the best of them on the test features;
- ``zsk`` builds examples/fclswgan-awa2-xlsa17.yaml pointed at the files (sizes by ``--set``),
  trains it and its validation run to each step count in turn and runs ``zsk eval``'s
  evaluation: the release's protocol (``routes.published_protocol``: the same two
  classifiers, last epoch) and zsk's calibrated headline (300 generated features per class and
  30 classifier epochs, the only candidates, to keep the evaluation short). Training CPU seconds
  are the run's own; its validation run's (needed only for the calibrated headline) are beside
  them in the results.

One process, one thread; process CPU seconds. Results: one JSON line per (side, size, seed, step)
in OUT/results.jsonl; ``--table`` prints the side-by-side table (mean ± std over seeds).
``--steps`` (multiples of 100) evaluates at other step counts.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.studies.results import RESULTS, put, read, study_arguments, tabled

REPOSITORY = Path(__file__).resolve().parents[2]

if TYPE_CHECKING:
    from zsk.core.evaluate.result import EvalResult

STEPS = (200, 500, 1000, 2000)
#: features per class before the split; 212 trainval + 53 seen test per seen class
PER_CLASS, TEST_SEEN = 265, 53
KEY = ("side", "size", "seed", "step")
SET = {"classes": 40, "unseen": 10, "validation": 8, "attributes": 48, "noise": 1.5, "offset": 0.6}
#: feature and hidden sizes, and the GAN's learning rate: AwA's published 1e-5 at the full size;
#: CUB's published 1e-4 at the small one, where 1e-5 left the authors' code at chance ZSL top-1
#: (0.106 among 10 classes) after 1,000 steps
SIZES = {
    "small": {"dim": 512, "hidden": 1024, "lr": 1e-4},
    "full": {"dim": 2048, "hidden": 4096, "lr": 1e-5},
}
#: f-CLSWGAN's published AwA settings as the release's command line takes them
AUTHORS_ARGS = (
    "--gzsl --preprocessing --cls_weight 0.01 --classifier_lr 0.001 "
    "--image_embedding res101 --class_embedding att --netG_name MLP_G --netD_name MLP_CRITIC "
    "--syn_num 300 --lambda1 10 --critic_iter 5 --batch_size 64"
)


def data_root(out: Path, size: str) -> Path:
    return out / "data" / size


def write_data(out: Path, size: str) -> Path:
    """The synthetic set (see module) as res101.mat and att_splits.mat in OUT/data/SIZE/SYN."""
    import scipy.io

    from zsk.testing.features import synthetic_features
    from zsk.testing.xlsa17 import write_xlsa17

    dim = SIZES[size]["dim"]
    data = synthetic_features(**SET, feature_dim=dim, per_class=PER_CLASS, test_share=0.2)
    root = data_root(out, size) / "SYN"
    count = {k: SET[k] for k in ("classes", "unseen", "validation", "attributes")}
    write_xlsa17(
        root,
        **count,
        per_class=PER_CLASS,
        test_seen_per_class=TEST_SEEN,
        dim=dim,
        features_override=data.features.numpy().T.astype(np.float64),
        attributes_override=data.attributes.numpy().T.astype(np.float64),
    )
    # the release indexes with the split variables as they are: store them as integers
    splits = scipy.io.loadmat(str(root / "att_splits.mat"))
    kept = {k: v for k, v in splits.items() if not k.startswith("__")}
    fixed = {k: v.astype(np.uint16) if k.endswith("_loc") else v for k, v in kept.items()}
    scipy.io.savemat(str(root / "att_splits.mat"), fixed)
    return root


def append(out: Path, record: dict) -> None:
    """Record one (side, size, seed, step) result in OUT/results.jsonl, replacing an older one."""
    put(out / RESULTS, record, KEY)


def authors(out: Path, size: str, seeds: list[int], code: Path, steps: list[int]) -> None:
    """The release at :data:`STEPS` for each seed (see module), one subprocess per seed."""
    hidden, dim = SIZES[size]["hidden"], SIZES[size]["dim"]
    attributes, classes = SET["attributes"], SET["classes"]
    epochs = ",".join(str(s // 100) for s in steps)
    for seed in seeds:
        result = out / "authors" / f"{size}-seed{seed}.json"
        theirs = AUTHORS_ARGS.split() + [
            f"--manualSeed={seed + 1}",  # the release treats seed 0 as "no seed"
            f"--nepoch={max(steps) // 100}",
            f"--lr={SIZES[size]['lr']}",
            f"--ngh={hidden}",
            f"--ndh={hidden}",
            f"--nz={attributes}",
            f"--attSize={attributes}",
            f"--resSize={dim}",
            f"--nclass_all={classes}",
            "--dataset=SYN",
            f"--dataroot={data_root(out, size).resolve()}",
            "--outname=syn",
        ]
        work = out / "authors" / "work"
        work.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "benchmarks.studies.fclswgan_release"]
        command += ["--authors-code", str(code)]
        command += ["--out", str(result.resolve()), "--eval-epochs", epochs, "--", *theirs]
        env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")]))
        subprocess.run(command, check=True, cwd=work, env=env)
        for point in json.loads(result.read_text())["points"]:
            append(out, _authors_row(point, size, seed))


def _authors_row(point: dict, size: str, seed: int) -> dict:
    gzsl = point["gzsl"]
    return {
        "side": "authors",
        "size": size,
        "seed": seed,
        "step": point["generator_steps"],
        "zsl_top1": point["zsl"]["last"],
        "u": gzsl["last"]["u"],
        "s": gzsl["last"]["s"],
        "h": gzsl["last"]["h"],
        "best_on_test": {"zsl_top1": point["zsl"]["best"], **gzsl["best"]},
        "train_cpu_seconds": point["train_cpu_seconds"],
        "eval_cpu_seconds": point["eval_cpu_seconds"],
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


EXAMPLE = REPOSITORY / "examples" / "fclswgan-awa2-xlsa17.yaml"


def zsk_overrides(out: Path, size: str, seed: int) -> list[str]:
    """The example pointed at OUT's files at ``size``, training seed ``seed``, every
    checkpoint kept (the step counts are reached one after another)."""
    hidden, attributes = SIZES[size]["hidden"], SET["attributes"]
    root = (data_root(out, size) / "SYN").resolve()
    return [
        f"data.params.root={root}",
        f"model.noise_dim={attributes}",
        f"model.embedding_dim={attributes}",
        f"model.generator.params.hidden=[{hidden}]",
        f"model.heads.real_fake.params.hidden=[{hidden}]",
        f"train.optimizers.generator.lr={SIZES[size]['lr']}",
        f"train.optimizers.discriminator.lr={SIZES[size]['lr']}",
        f"train.seed={seed}",
        "train.keep_checkpoints=100",
        "train.checkpoint_every=1000000",
        "train.log_every=1000000",
    ]


def zsk_side(out: Path, size: str, seeds: list[int], steps: list[int]) -> None:
    """zsk's example at :data:`STEPS` for each seed: the run and its validation run trained to
    each step count in turn, then evaluated as ``zsk eval`` evaluates (see module)."""
    import torch

    from zsk.core.evaluate.evaluator import EvalOptions, evaluate
    from zsk.core.evaluate.result import write_eval
    from zsk.core.evaluate.trained import load_trained
    from zsk.core.rundir.building import build_run
    from zsk.core.rundir.directory import load_run
    from zsk.core.rundir.validation_run import companion
    from zsk.core.train.loop import Trainer

    torch.set_num_threads(1)
    for seed in seeds:
        run_dir = out / "zsk" / f"{size}-seed{seed}"
        sets = zsk_overrides(out, size, seed)
        build_run(EXAMPLE, sets, run_dir, force=True, record_latest=False)
        validation = companion(run_dir)
        builds = {path: load_run(path) for path in (run_dir, validation)}
        spent = dict.fromkeys(builds, 0.0)
        for step in steps:
            for path, built in builds.items():
                clock = time.process_time()
                Trainer(built, path, steps=step, device="cpu", resume=True).fit()
                spent[path] += time.process_time() - clock
            clock = time.process_time()
            options = EvalOptions(
                images_per_class=(300,), classifier_epochs=(30,), probe_steps=100, seed=seed
            )
            result = evaluate(load_trained(run_dir, builds[run_dir]), options, torch.device("cpu"))
            write_eval(run_dir, result)
            row = _zsk_row(result, size, seed, step, spent[run_dir], time.process_time() - clock)
            append(out, row | {"validation_train_cpu_seconds": spent[validation]})


def _zsk_row(
    result: EvalResult, size: str, seed: int, step: int, train: float, spent: float
) -> dict:
    generative, published = (result.routes[k] for k in ("generative", "published_protocol"))
    return {
        "side": "zsk",
        "size": size,
        "seed": seed,
        "step": step,
        "zsl_top1": published.zsl_top1,
        **{k: getattr(published.gzsl, k) for k in ("u", "s", "h")},
        "calibrated": {"zsl_top1": generative.zsl_top1, "h": generative.gzsl.h},
        "train_cpu_seconds": train,
        "eval_cpu_seconds": spent,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _cell(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3f}" if values else "—"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def _group(rows: list[dict]) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["size"], row["step"], row["side"]), []).append(row)
    return groups


def table(path: Path) -> str:
    """The side-by-side table (mean ± std over seeds) of result rows, one line per size and
    step count: ZSL top-1 and uncalibrated u, s, H of both sides as the release computes them
    (last classifier epoch), zsk's calibrated H, each side's training CPU seconds; then the
    release's own printout (best epoch on the test features)."""
    groups = _group(read(path))
    lines = [
        "| size | steps | seeds | authors: ZSL / u, s, H | zsk: ZSL / u, s, H "
        "| zsk calibrated H | training CPU s (authors / zsk) |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, step in sorted({(k[0], k[1]) for k in groups}):
        theirs, ours = groups.get((size, step, "authors"), []), groups.get((size, step, "zsk"), [])
        seeds = min(len(theirs), len(ours)) if theirs and ours else max(len(theirs), len(ours))
        cells = [
            " / ".join(
                [_cell([r["zsl_top1"] for r in side])]
                + [", ".join(_cell([r[k] for r in side]) for k in ("u", "s", "h"))]
            )
            if side
            else "—"
            for side in (theirs, ours)
        ]
        calibrated = _cell([r["calibrated"]["h"] for r in ours]) if ours else "—"
        cpu = " / ".join(
            f"{statistics.mean(r['train_cpu_seconds'] for r in side):.0f}" if side else "—"
            for side in (theirs, ours)
        )
        lines.append(
            f"| {size} | {step:,} | {seeds} | {cells[0]} | {cells[1]} | {calibrated} | {cpu} |"
        )
    lines += [
        "",
        "| size | steps | authors as printed (best of 25 epochs on test): ZSL / u, s, H |",
    ]
    lines.append("|---|---|---|")
    for (size, step, side), members in sorted(groups.items()):
        if side == "authors":
            best = [r["best_on_test"] for r in members]
            hus = ", ".join(_cell([b[k] for b in best]) for k in ("u", "s", "h"))
            lines.append(f"| {size} | {step:,} | {_cell([b['zsl_top1'] for b in best])} / {hus} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = study_arguments(__doc__)
    parser.add_argument("action", nargs="?", choices=("data", "authors", "zsk"))
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", default=",".join(map(str, STEPS)), help="multiples of 100")
    parser.add_argument("--authors-code", type=Path)
    args = parser.parse_args(argv)
    if tabled(args, table):
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    steps = [int(s) for s in args.steps.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.action == "data":
        print(write_data(args.out, args.size))
    elif args.action == "authors":
        if args.authors_code is None:
            parser.error("authors needs --authors-code DIR (BENCHMARKS.md §7)")
        authors(args.out, args.size, seeds, args.authors_code.resolve(), steps)
    elif args.action == "zsk":
        zsk_side(args.out, args.size, seeds, steps)
    else:
        parser.error("give data, authors, zsk or --table")


if __name__ == "__main__":
    main()
