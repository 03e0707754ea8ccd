"""zsk's side of the f-CLSWGAN comparison scored (benchmarks/studies/fclswgan_vs_authors.py):
the release's protocol on a checkpoint, averaged over :data:`EVAL_DRAWS` draws, and zsk's
calibrated headline beside it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from zsk.core.build.composer import Build
    from zsk.core.evaluate.trained import TrainedRun

#: evaluations of each side at each step count, each with its own draw of the generator's noise
#: and of the final classifiers' initialisation and batches; a row holds their mean, because one
#: draw's last-epoch numbers move between draws by more than the two implementations differ
EVAL_DRAWS = 5


def zsk_evaluated(run_dir: Path, build: Build, seed: int, calibrated: bool) -> dict:
    """The run's newest checkpoint evaluated: the release's protocol (:func:`published_mean`),
    and with ``calibrated`` zsk's calibrated headline beside it (written as the run's
    eval.json)."""
    import torch

    from zsk.core.evaluate.evaluator import evaluate
    from zsk.core.evaluate.options import EvalOptions
    from zsk.core.evaluate.result import write_eval
    from zsk.core.evaluate.trained import load_trained

    trained = load_trained(run_dir, build)
    numbers = published_mean(trained, seed)
    if not calibrated:
        return numbers
    options = EvalOptions(
        images_per_class=(300,), classifier_epochs=(30,), probe_steps=100, seed=seed
    )
    result = evaluate(trained, options, torch.device("cpu"))
    write_eval(run_dir, result)
    generative = result.routes["generative"]
    return numbers | {"calibrated": {"zsl_top1": generative.zsl_top1, "h": generative.gzsl.h}}


def reevaluated(run_dir: Path, build: Build, row: dict) -> dict:
    """``row`` with the release's protocol computed afresh (:func:`published_mean`) on the
    checkpoint of its step count; its calibrated headline, if any, is kept."""
    from zsk.core.evaluate.trained import TrainedRun
    from zsk.core.train.checkpoint import WEIGHTS_SUFFIX, checkpoint_stem
    from zsk.core.train.trained_weights import load_generator_and_discriminator

    checkpoint = checkpoint_stem(run_dir, row["step"]).with_suffix(WEIGHTS_SUFFIX)
    if not checkpoint.is_file():
        raise SystemExit(
            f"{run_dir} keeps no checkpoint of step {row['step']} to evaluate on "
            f"{EVAL_DRAWS} draws: remove the run folder to train it afresh"
        )
    load_generator_and_discriminator(build, checkpoint)
    clock = time.process_time()
    numbers = published_mean(TrainedRun(run_dir, build, checkpoint), row["seed"])
    return row | numbers | {"eval_cpu_seconds": time.process_time() - clock}


def published_mean(trained: TrainedRun, seed: int) -> dict:
    """The release's protocol (``routes.published_protocol``) on the trained run, computed as
    ``zsk eval`` computes it, on :data:`EVAL_DRAWS` draws (the generator's noise and the
    classifiers' seed ``seed * EVAL_DRAWS + draw``): the mean of each number over the draws."""
    import torch

    from zsk.core.components.metric_inputs import LabelledImages
    from zsk.core.data.loader import load_split_images
    from zsk.core.evaluate.published_protocol import published_protocol

    data, size = trained.build.data, trained.build.dims.image_size
    gan = trained.build.gan.to("cpu").eval()
    train, test_seen, test_unseen = (
        LabelledImages(*load_split_images(data, split, size))
        for split in ("train", "test_seen", "test_unseen")
    )
    draws = []
    for draw in range(seed * EVAL_DRAWS, (seed + 1) * EVAL_DRAWS):
        torch.manual_seed(draw)
        cpu = torch.device("cpu")
        published = published_protocol(gan, data, train, test_seen + test_unseen, cpu, draw)
        draws.append((published.zsl_top1, *(getattr(published.gzsl, k) for k in "ush")))
    means = dict(zip(("zsl_top1", "u", "s", "h"), np.mean(draws, axis=0).tolist(), strict=True))
    return {"side": "zsk", **means, "eval_draws": EVAL_DRAWS}
