"""What the built-in image readers share: their root folder, and how they split classes and
images, as params and as code (:mod:`zsk.core.data.reader_split`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from zsk.core.components.interfaces import Dataset
from zsk.core.components.zsl_data import ZslData
from zsk.core.data.reader_split import XLSA17_FIELD, split_classes
from zsk.core.data.readers import require_folder
from zsk.core.data.split import scale_attributes


class ImageReaderParams(Dataset.Params):
    """The params every image reader has: its folder, how its attribute rows scale, and how it
    splits. Each reader gives the first four the defaults (and words) of its layout."""

    root: str
    rows: Literal["none", "l2"]
    seen_classes: str
    unseen_classes: str
    seen_test_fraction: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="share of each seen class's images held out as the seen test set (GZSL)",
    )
    split_seed: int = Field(0, description="seed of the held-out choice (deterministic per class)")
    xlsa17: str | None = XLSA17_FIELD


class ImageReader(Dataset):
    """Base of the built-in image readers: ``load()`` reads its layout's class table, then
    :meth:`split` makes the data set of it."""

    def root(self) -> Path:
        """``params.root``, which must be a folder."""
        root = Path(self.params.root).expanduser()
        require_folder(root)
        return root

    def split(
        self,
        root: Path,
        classes: list[str],
        predicates: list[str],
        matrix: np.ndarray,
        divide_by: float,
        images_of: Callable[[str, str], list[Path]],
        listed_at: Callable[[int], str],
    ) -> ZslData:
        """The data set of a read class table: attributes divided by ``divide_by`` and scaled as
        ``params.rows`` asks, split as the params ask (``images_of``/``listed_at`` as in
        :func:`~zsk.core.data.reader_split.split_classes`)."""
        return split_classes(
            root=root,
            classes=classes,
            predicates=predicates,
            attributes=scale_attributes(matrix, divide_by, self.params.rows),
            images_of=images_of,
            listed_at=listed_at,
            params=self.params,
        )
