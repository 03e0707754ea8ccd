"""Specs and runs of the tests' tiny components (:mod:`tests.tiny_components`): a spec naming
them, its build, and a run directory built from a spec file as ``zsk build`` builds one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.tiny_components import SIZE, make_data, registered
from zsk.core.build.composer import compose
from zsk.core.components.zsl_data import ZslData
from zsk.core.spec.sections import Spec


def spec_dict(root: Path, generator: str = "tiny_translator", **train) -> dict:
    heads = {"real_fake": {"type": "tiny_real_fake"}, "embedding": {"type": "tiny_embedding"}}
    generator_terms = [{"type": "tiny_lsgan"}, {"type": "tiny_cosine", "weight": 0.5}]
    if generator == "tiny_translator":
        heads["reconstruction_feature"] = {"type": "tiny_reconstruction"}
        generator_terms.append({"type": "tiny_rec"})
    settings = {
        "batch_size": 4,
        "steps": 4,
        "log_every": 2,
        "checkpoint_every": 2,
        "sample_every": 2,
        "precision": "fp32",
        "seed": 3,
    }
    settings.update(train)
    return {
        "name": "tiny",
        "data": {"type": "tiny_data", "params": {"root": str(root)}},
        "model": {
            "image_size": SIZE,
            "embedding_dim": 6,
            "noise_dim": 4,
            "generator": {"type": generator},
            "trunk": {"type": "tiny_trunk"},
            "heads": heads,
            "semantic_encoder": {"type": "tiny_semantic"},
        },
        "objective": {
            "discriminator": [{"type": "tiny_lsgan"}, {"type": "tiny_cosine"}],
            "generator": generator_terms,
        },
        "train": settings,
    }


def make_build(data: ZslData, spec: dict):
    return compose(Spec.model_validate(spec), data)


def write_run(folder: Path, data_root: Path, generator: str = "tiny_translator", **train) -> Path:
    """A run directory built by ``zsk build``'s machinery from a tiny spec file."""
    import yaml

    from zsk.core.rundir.building import build_run

    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(spec_dict(data_root, generator, **train)))
    run_dir, _ = build_run(spec_path, out=folder / "run")
    return run_dir


@contextmanager
def registered_run(root: Path, **train) -> Iterator[Path]:
    """The tiny components registered, the tiny data set in ``root/data`` and a run built on it
    (``train`` as in :func:`write_run`); the components are unregistered afterwards."""
    with registered():
        make_data(root / "data")
        yield write_run(root, root / "data", **train)
