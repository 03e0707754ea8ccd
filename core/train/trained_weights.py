"""Trained weights loaded into a build's networks: what evaluation, pictures and a later
stage's feature extraction read from a run's newest checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zsk.core.build.model import GAN
from zsk.core.train.checkpoint import check_matches, find_latest, model_fingerprint, read_checkpoint
from zsk.core.train.state import load_trained_weights
from zsk.registry import UserError


def load_generator_and_discriminator(build: Any, path: Path, use_ema: bool = True) -> GAN:
    """Load trained weights into ``build.gan`` (in place) and return it in eval mode.

    ``path`` is a checkpoint's ``.safetensors``/``.json`` file or a run directory (its newest
    checkpoint). With ``use_ema`` the generator gets its moving-average weights when the run kept
    them. Raises :class:`UserError` when there is no checkpoint or it does not fit the build.
    """
    path = Path(path)
    if path.is_dir() or not path.exists():
        latest = find_latest(path)
        if latest is None:
            raise UserError(f"run {path} has no checkpoint yet", hint=f"train it: zsk train {path}")
        path = latest
    tensors, meta = read_checkpoint(path)
    check_matches(meta, model_fingerprint(build.gan, build.data.fingerprint()), path)
    load_trained_weights(build.gan, tensors, str(path), use_ema)
    return build.gan.eval()
