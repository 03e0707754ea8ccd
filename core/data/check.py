"""``zsk data check``: read a data set as training would and say what is in it and what is wrong.

Structural faults in the files (a missing class folder, a matrix of the wrong shape, a class in
both splits, an unknown class) are raised by the reader as a UserError with file and line. This
module adds the faults only visible across files: a split class without a single image.
A feature data set has no images to decode; its reader has already refused non-finite features.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zsk.core.components.zsl_data import ZslData
from zsk.core.data.folder_formats import load_folder
from zsk.core.data.images import decode_into
from zsk.core.data.progress import progress_bar

#: Side at which ``check`` decodes every image: small, so the check is quick (JPEG draft mode).
CHECK_SIZE = 16


@dataclass
class CheckReport:
    format: str
    data: ZslData
    images_per_class: dict[str, int]
    decoded: bool = False
    undecodable: list[Path] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)

    @property
    def unused(self) -> list[str]:
        """Classes in the index but in neither split (e.g. the proposed split's validation)."""
        used = set(self.data.seen) | set(self.data.unseen)
        return [c for i, c in enumerate(self.data.classes) if i not in used]

    def as_dict(self) -> dict:
        d = self.data
        return {
            "format": self.format,
            "root": str(d.root),
            "classes": len(d.classes),
            "predicates": len(d.predicates),
            "attributes_shape": list(d.attributes.shape),
            "attributes_range": [float(d.attributes.min()), float(d.attributes.max())],
            "seen": [d.classes[i] for i in d.seen],
            "unseen": [d.classes[i] for i in d.unseen],
            "unused": self.unused,
            "images": {
                "train": len(d.train),
                "test_seen": len(d.test_seen),
                "test_unseen": len(d.test_unseen),
            },
            "images_per_class": self.images_per_class,
            "features": None
            if d.features is None
            else {"count": int(d.features.shape[0]), "dim": d.feature_dim, "non_finite": 0},
            "undecodable": [str(p) for p in self.undecodable],
            "faults": self.faults,
        }


def check(
    root: Path, fmt: str = "auto", *, decode: bool = True, progress: bool = False
) -> CheckReport:
    """Load ``root`` with its reader's default options and (optionally) decode every image."""
    name, data = load_folder(root, fmt)
    samples = data.train + data.test_seen + data.test_unseen
    counts = {data.classes[i]: 0 for i in sorted(data.seen + data.unseen)}
    for sample in samples:
        counts[data.classes[sample.label]] += 1
    report = CheckReport(name, data, counts)
    report.faults += [f"class '{c}' has no images" for c, n in counts.items() if n == 0]
    if decode and not data.is_features:
        scratch = np.empty((len(samples), 3, CHECK_SIZE, CHECK_SIZE), dtype=np.uint8)
        paths = [s.path for s in samples]
        with progress_bar(len(paths), "decoding", progress) as advance:
            failed = decode_into(paths, CHECK_SIZE, scratch, on_done=advance)
        report.undecodable = [paths[i] for i in failed]
        report.decoded = True
    return report
