"""zsk's f-CLSWGAN example against the authors' released code on the same xlsa17-format files
(BENCHMARKS.md §7).

    python -m benchmarks.studies.fclswgan_vs_authors OUT data [--dataset D] [--size small|full]
    python -m benchmarks.studies.fclswgan_vs_authors OUT authors --authors-code DIR [--dataset ..]
    python -m benchmarks.studies.fclswgan_vs_authors OUT zsk [--dataset ..] [--no-calibrated]
    python -m benchmarks.studies.fclswgan_vs_authors --table OUT/results.jsonl

``data`` writes one of zsk's synthetic feature sets (zsk.testing.features, :data:`DATASETS`) in
the benchmark files' format with zsk's own writer (zsk.testing.xlsa17), into
OUT/data/SIZE/FOLDER: ``full`` has 2048-d features, ``small`` 512-d. ``--dataset`` picks it:

- ``syn40`` (the default): 40 classes, 10 unseen, 8 of the 30 seen its ``val_loc`` classes,
  48 attributes; each seen class 212 trainval features (6,360 in all: exactly 100 generator
  steps per epoch of the authors' code at batch 64) and 53 seen test features, each unseen
  class 265;
- ``syn40clean``: syn40's classes, attributes and splits with each class's features fixed by
  its attributes (no class offset, within-class noise 0.05): an easier set, on which the
  release's GZSL classifier finds unseen classes at the ``full`` size (BENCHMARKS.md §7);
- ``awa2``: the feature benchmarks' AwA2-sized set (``AWA2_SIZED`` in
  benchmarks/speed/bench_features.py): 50 classes, 10 unseen, 13 of the 40 seen its ``val_loc``
  classes, 85 attributes, 600 features per class (480 trainval and 120 seen test per seen class:
  19,200 trainval, 300 generator steps per epoch of the authors' code).

Both sides train with f-CLSWGAN's published AwA settings (β 0.01, 5 critic steps, λ 10, batch
64, Adam β1 0.5, noise of the attributes' size, MinMax scaling fitted on trainval, 300 generated
features per unseen class), hidden layers of 4096 and AwA's learning rate 1e-5 (``full``) or
1024 and CUB's 1e-4 (``small``, see :data:`SIZES`), and are evaluated at :data:`STEPS`
generator steps of ONE training run per seed:

- ``authors`` runs the release from ``--authors-code DIR`` (``fclswgan_release`` beside this
  module, which patches it in memory for a current torch on the CPU) with ``--gzsl``, recording
  at each step count its ZSL classifier's top-1 and its GZSL classifier's u, s, H, the last of
  their 25 epochs and (as released) the best of them on the test features; its epoch is set to
  100 generator steps (``--epoch-steps``: its batches are drawn at random, so the epoch only
  says where it evaluates), so that it evaluates at the same step counts on every set;
- ``zsk`` builds examples/fclswgan-awa2-xlsa17.yaml pointed at the files (sizes by spec overrides),
  trains it and its validation run to each step count in turn and runs ``zsk eval``'s
  evaluation: the release's protocol (``routes.published_protocol``: the same two
  classifiers, last epoch) and zsk's calibrated headline (300 generated features per class and
  30 classifier epochs, the only candidates, to keep the evaluation short). Training CPU seconds
  are the run's own; its validation run's (needed only for the calibrated headline) are beside
  them in the results. ``--no-calibrated`` trains no validation run and computes the release's
  protocol alone (half the CPU; the table's calibrated H then reads "not measured").

Each side's release-protocol numbers at a step count are the mean over :data:`EVAL_DRAWS`
evaluations, each with its own draw of generated features and of the two classifiers'
initialisation (``--eval-draws`` of ``fclswgan_release``; zsk's draws seeded ``seed *
EVAL_DRAWS + draw``); the training is one run either way.

One process, one thread; process CPU seconds. Results: one JSON line per (side, data set, size,
seed, step) in OUT/results.jsonl, each written when its step count is done; ``--table`` prints
the side-by-side table (mean ± std over seeds). Stopped and started again, ``zsk`` goes on from
its last recorded step count (its checkpoint); the release cannot resume, so ``authors`` starts
that seed afresh (``--seeds`` and ``--steps``, multiples of :data:`EPOCH_STEPS`, say which).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.speed.bench_features import AWA2_SIZED
from benchmarks.studies.fclswgan_scoring import EVAL_DRAWS, reevaluated, zsk_evaluated
from benchmarks.studies.fclswgan_table import table
from benchmarks.studies.results import RESULTS, put, read, study_arguments, tabled

REPOSITORY = Path(__file__).resolve().parents[2]

if TYPE_CHECKING:
    from collections.abc import Iterator


STEPS = (200, 500, 1000, 2000)
#: the release's epoch in generator steps (a divisor of every step count evaluated)
EPOCH_STEPS = 100
KEY = ("side", "dataset", "size", "seed", "step")
#: the synthetic sets (see module) as zsk.testing.features' arguments, less the feature size,
#: and the folder (the release's ``--dataset``) each is written to
SYN40 = {
    "classes": 40,
    "unseen": 10,
    "validation": 8,
    "attributes": 48,
    "per_class": 265,
    "test_share": 0.2,
    "noise": 1.5,
    "offset": 0.6,
}
DATASETS = {
    "syn40": SYN40,
    "syn40clean": SYN40 | {"noise": 0.05, "offset": 0.0},
    "awa2": {k: v for k, v in AWA2_SIZED.items() if k != "feature_dim"},
}
FOLDERS = {"syn40": "SYN", "syn40clean": "SYNCLEAN", "awa2": "AWA2SYN"}
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


def data_folder(out: Path, dataset: str, size: str) -> Path:
    """Where ``data`` writes ``dataset`` at ``size``: OUT/data/SIZE/FOLDER."""
    return out / "data" / size / FOLDERS[dataset]


def test_seen_per_class(dataset: str) -> int:
    """Seen test features per seen class: the last ``test_share`` of each class's features."""
    counts = DATASETS[dataset]
    return math.ceil(counts["per_class"] * counts["test_share"] - 1e-9)


def write_data(out: Path, dataset: str, size: str) -> Path:
    """``dataset`` (see module) as res101.mat and att_splits.mat in :func:`data_folder`."""
    import scipy.io

    from zsk.testing.features import synthetic_features
    from zsk.testing.xlsa17 import write_xlsa17

    dim, counts = SIZES[size]["dim"], DATASETS[dataset]
    data = synthetic_features(**counts, feature_dim=dim)
    root = data_folder(out, dataset, size)
    write_xlsa17(
        root,
        **{k: counts[k] for k in ("classes", "unseen", "validation", "attributes", "per_class")},
        test_seen_per_class=test_seen_per_class(dataset),
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
    """Record one (side, data set, size, seed, step) result in OUT/results.jsonl, replacing an
    older one."""
    put(out / RESULTS, record, KEY)


def authors_arguments(out: Path, dataset: str, size: str, seed: int, steps: list[int]) -> list:
    """The release's command line for one seed: :data:`AUTHORS_ARGS` and the set's sizes."""
    hidden, counts = SIZES[size]["hidden"], DATASETS[dataset]
    return AUTHORS_ARGS.split() + [
        f"--manualSeed={seed + 1}",  # the release treats seed 0 as "no seed"
        f"--nepoch={max(steps) // EPOCH_STEPS}",
        f"--lr={SIZES[size]['lr']}",
        f"--ngh={hidden}",
        f"--ndh={hidden}",
        f"--nz={counts['attributes']}",
        f"--attSize={counts['attributes']}",
        f"--resSize={SIZES[size]['dim']}",
        f"--nclass_all={counts['classes']}",
        f"--dataset={FOLDERS[dataset]}",
        f"--dataroot={data_folder(out, dataset, size).parent.resolve()}",
        "--outname=syn",
    ]


def authors(
    out: Path, dataset: str, size: str, seeds: list[int], code: Path, steps: list[int]
) -> None:
    """The release at each of ``steps`` for each seed (see module), one subprocess per seed."""
    epochs = ",".join(str(s // EPOCH_STEPS) for s in steps)
    for seed in seeds:
        result = out / "authors" / f"{dataset}-{size}-seed{seed}.json"
        work = out / "authors" / "work"
        work.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "benchmarks.studies.fclswgan_release"]
        command += ["--authors-code", str(code), "--epoch-steps", str(EPOCH_STEPS)]
        command += ["--eval-draws", str(EVAL_DRAWS)]
        command += ["--out", str(result.resolve()), "--eval-epochs", epochs, "--"]
        command += authors_arguments(out, dataset, size, seed, steps)
        env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")]))
        for point in _streamed_points(command, work, env):
            append(out, _authors_row(point, dataset, size, seed))


def _streamed_points(command: list[str], cwd: Path, env: dict) -> Iterator[dict]:
    """Run the release's driver, echoing its output, and yield each point it prints (a JSON
    line) as it comes, so that the step counts it finished stay recorded if it is stopped."""
    with subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, text=True) as run:
        for line in run.stdout or ():
            print(line, end="", flush=True)
            if line.startswith('{"epoch"'):
                yield json.loads(line)
    if run.returncode:
        raise subprocess.CalledProcessError(run.returncode, command)


def _authors_row(point: dict, dataset: str, size: str, seed: int) -> dict:
    gzsl = point["gzsl"]
    return {
        "side": "authors",
        "dataset": dataset,
        "size": size,
        "seed": seed,
        "step": point["generator_steps"],
        "zsl_top1": point["zsl"]["last"],
        "u": gzsl["last"]["u"],
        "s": gzsl["last"]["s"],
        "h": gzsl["last"]["h"],
        "best_on_test": {"zsl_top1": point["zsl"]["best"], **gzsl["best"]},
        "eval_draws": len(point["draws"]),
        "train_cpu_seconds": point["train_cpu_seconds"],
        "eval_cpu_seconds": point["eval_cpu_seconds"],
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


EXAMPLE = REPOSITORY / "examples" / "fclswgan-awa2-xlsa17.yaml"


def zsk_overrides(out: Path, dataset: str, size: str, seed: int) -> list[str]:
    """The example pointed at OUT's files of ``dataset`` at ``size``, training seed ``seed``,
    every checkpoint kept (the step counts are reached one after another)."""
    hidden, attributes = SIZES[size]["hidden"], DATASETS[dataset]["attributes"]
    root = data_folder(out, dataset, size).resolve()
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


def zsk_side(
    out: Path, dataset: str, size: str, seeds: list[int], steps: list[int], calibrated: bool = True
) -> None:
    """zsk's example at each of ``steps`` for each seed: the run (and, for the calibrated
    headline, its validation run) trained to each step count in turn, then evaluated as ``zsk
    eval`` evaluates (see module); ``calibrated=False`` trains no validation run and evaluates
    the release's protocol alone. A seed whose run OUT already holds goes on from its last
    recorded step count; its rows evaluated on another number of draws are evaluated afresh
    from their checkpoints (the training is the same)."""
    import torch

    from zsk.core.rundir.building import build_run
    from zsk.core.rundir.directory import load_run
    from zsk.core.rundir.validation_run import companion
    from zsk.core.train.loop import Trainer

    torch.set_num_threads(1)
    for seed in seeds:
        run_dir = out / "zsk" / f"{dataset}-{size}-seed{seed}"
        done = _recorded_zsk(out, dataset, size, seed, calibrated)
        if not done:
            sets = zsk_overrides(out, dataset, size, seed)
            build_run(EXAMPLE, sets, run_dir, force=True, record_latest=False)
        paths = (run_dir, companion(run_dir)) if calibrated else (run_dir,)
        builds = {path: load_run(path) for path in paths}
        for row in (r for r in done if r.get("eval_draws") != EVAL_DRAWS):
            append(out, reevaluated(run_dir, builds[run_dir], row))
        last = done[-1] if done else {}
        spent = {run_dir: last.get("train_cpu_seconds", 0.0)}
        spent[companion(run_dir)] = last.get("validation_train_cpu_seconds", 0.0)
        for step in (s for s in steps if s > last.get("step", 0)):
            for path, built in builds.items():
                clock = time.process_time()
                Trainer(built, path, steps=step, device="cpu", resume=True).fit()
                spent[path] += time.process_time() - clock
            clock = time.process_time()
            row = zsk_evaluated(run_dir, builds[run_dir], seed, calibrated)
            row |= {"dataset": dataset, "size": size, "seed": seed, "step": step}
            row |= {"train_cpu_seconds": spent[run_dir]}
            row |= {"eval_cpu_seconds": time.process_time() - clock}
            if calibrated:
                row["validation_train_cpu_seconds"] = spent[companion(run_dir)]
            append(out, row | {"finished": time.strftime("%Y-%m-%d %H:%M:%S")})


def _recorded_zsk(out: Path, dataset: str, size: str, seed: int, calibrated: bool) -> list[dict]:
    """zsk's rows of this seed that OUT already holds, by step, when its run can go on from
    them (a checkpoint kept; the same evaluation asked for); else none, and the run starts
    afresh."""
    from zsk.core.train.checkpoint import find_latest

    run_dir = out / "zsk" / f"{dataset}-{size}-seed{seed}"
    if not run_dir.is_dir() or find_latest(run_dir) is None:
        return []
    rows = [
        r
        for r in read(out / RESULTS)
        if (r["side"], r["dataset"], r["size"], r["seed"]) == ("zsk", dataset, size, seed)
    ]
    if any(("calibrated" in r) != calibrated for r in rows):
        return []
    return sorted(rows, key=lambda r: r["step"])


def main(argv: list[str] | None = None) -> None:
    parser = study_arguments(__doc__)
    parser.add_argument("action", nargs="?", choices=("data", "authors", "zsk"))
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="syn40")
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--steps", default=",".join(map(str, STEPS)), help=f"multiples of {EPOCH_STEPS}"
    )
    parser.add_argument("--authors-code", type=Path)
    parser.add_argument(
        "--no-calibrated",
        action="store_true",
        help="zsk: train no validation run and evaluate the release's protocol alone "
        "(half the CPU; the table's calibrated H reads 'not measured')",
    )
    args = parser.parse_args(argv)
    if tabled(args, table):
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    steps = [int(s) for s in args.steps.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.action == "data":
        print(write_data(args.out, args.dataset, args.size))
    elif args.action == "authors":
        if args.authors_code is None:
            parser.error("authors needs --authors-code DIR (BENCHMARKS.md §7)")
        code = args.authors_code.resolve()
        authors(args.out, args.dataset, args.size, seeds, code, steps)
    elif args.action == "zsk":
        zsk_side(args.out, args.dataset, args.size, seeds, steps, not args.no_calibrated)
    else:
        parser.error("give data, authors, zsk or --table")


if __name__ == "__main__":
    main()
