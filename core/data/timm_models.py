"""timm architectures built without downloading, and their weights read from local files only.

Used by the ``timm`` trunk and by ``zsk data features --backbone``. ``timm`` is imported inside
the functions: it is slow to import and most commands never need it.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from zsk.registry import UserError


def create(name: str, where: str, **kwargs) -> nn.Module:
    """``timm.create_model(name, pretrained=False, **kwargs)``; an unknown name is the user's."""
    import timm

    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        guess = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UserError(
            f"{where}: timm has no architecture '{name}'.{guess}",
            hint="list them with python -c \"import timm; print(timm.list_models('res*'))\"",
        )
    return timm.create_model(name, pretrained=False, **kwargs)


def load_local_weights(model: nn.Module, path: Path, arch: str, where: str) -> None:
    """Load the safetensors file ``path`` into ``model`` (timm's ``arch``).

    Every tensor of the model must be in the file with its shape. Tensors the model lacks are
    allowed only for its classifier (``model.pretrained_cfg['classifier']``), which a feature
    extractor built with ``num_classes=0`` leaves out.
    """
    if not path.is_file():
        raise UserError(
            f"{where}: weights file {path} not found",
            hint=f"put the safetensors weights of timm's '{arch}' (e.g. model.safetensors "
            f"from the Hugging Face repo timm/{arch}) at {path.resolve()}; zsk never "
            "downloads",
        )
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise UserError(
            f"{where}: {path} is not a safetensors file ({exc})",
            hint="give the model.safetensors file of the architecture's weights",
        ) from None
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise UserError(
            f"{where}: {path} does not fit '{arch}': {str(exc).splitlines()[-1].strip()}",
            hint="use weights saved from the same architecture with the same in_chans",
        ) from None
    if missing:
        raise UserError(
            f"{where}: {path} lacks {len(missing)} tensors of '{arch}', e.g. {missing[0]}",
            hint="use weights saved from the same architecture",
        )
    classifier = str(getattr(model, "pretrained_cfg", {}).get("classifier") or "")
    foreign = [k for k in unexpected if not (classifier and k.startswith(f"{classifier}."))]
    if foreign:
        raise UserError(
            f"{where}: {path} holds {len(foreign)} tensors that '{arch}' does not have, e.g. "
            f"{foreign[0]}",
            hint="use weights saved from the same architecture",
        )
