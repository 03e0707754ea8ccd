"""How an image reader splits its classes and images: by class lists, or by the benchmark files.

Every built-in image reader takes ``seen_classes``/``unseen_classes`` (class lists, a share of
each seen class's images held out as the seen test set) and ``xlsa17`` (a folder holding the
benchmark's ``res101.mat`` and ``att_splits.mat``, whose proposed split then decides every
image's place: :mod:`zsk.core.data.xlsa17_images`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from pydantic import Field

from zsk.core.components.zsl_data import Sample, ZslData
from zsk.core.data.readers import read_class_list, resolve
from zsk.core.data.split import assemble
from zsk.core.data.xlsa17_images import split_images

XLSA17_FIELD = Field(
    None,
    description="folder holding the benchmark's res101.mat and att_splits.mat (xlsa17): their "
    "proposed split decides each image's split (the class lists and seen_test_fraction are "
    "then not used)",
)


def split_classes(
    *,
    root: Path,
    classes: list[str],
    predicates: list[str],
    attributes: torch.Tensor,
    images_of: Callable[[str, str], list[Path]],
    listed_at: Callable[[int], str],
    params,
) -> ZslData:
    """The data set split as ``params`` asks (see module).

    ``images_of(name, listed_at)`` lists one class's image files; ``listed_at(i)`` says where
    class ``i`` is defined (for messages). ``params`` has ``seen_classes``, ``unseen_classes``,
    ``xlsa17``, ``seen_test_fraction`` and ``split_seed``.
    """
    if params.xlsa17 is not None:
        return split_images(
            root=root,
            classes=classes,
            predicates=predicates,
            attributes=attributes,
            images=lambda: [
                Sample(path, label)
                for label, name in enumerate(classes)
                for path in images_of(name, listed_at(label))
            ],
            xlsa17=resolve(root, params.xlsa17),
        )
    seen_file = resolve(root, params.seen_classes)
    unseen_file = resolve(root, params.unseen_classes)
    return assemble(
        root=root,
        classes=classes,
        predicates=predicates,
        attributes=attributes,
        seen=read_class_list(seen_file, classes),
        unseen=read_class_list(unseen_file, classes),
        seen_file=seen_file,
        unseen_file=unseen_file,
        images_of=images_of,
        seen_test_fraction=params.seen_test_fraction,
        split_seed=params.split_seed,
    )
